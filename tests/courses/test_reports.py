"""Progress reports for admins and org managers: the pages, their scope, the chart, the CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import secrets

import pytest
from sqlalchemy import insert, select

from lms import database
from lms.accounts.models import User
from lms.courses import catalogue, chart, content, reports
from lms.courses import enrolment as enrolling
from lms.courses.models import CourseStatus, Enrolment, EnrolmentStatus, ModuleProgress
from lms.database import utcnow
from lms.errors import NotFound
from lms.permissions import Role

# --- test data -----------------------------------------------------------------------------


def add_people(db, organisation, course, cohort=None, *, count, completed=0, waitlisted=0, prefix=None):
    """Insert ``count`` people of ``organisation`` enrolled on ``course`` with two bulk inserts.

    The first ``completed`` are completed (this month), the next ``waitlisted`` on the waiting list.
    """
    prefix = prefix or f"p{secrets.token_hex(3)}"
    now = utcnow()
    db.session.execute(
        insert(User),
        [
            {
                "email": f"{prefix}-{i:05d}@example.org",
                "name": f"{prefix.upper()} Person {i:05d}",
                "organisation_id": organisation.id if organisation else None,
                "session_token": secrets.token_urlsafe(24),
                "is_active_account": True,
                "created_at": now,
            }
            for i in range(count)
        ],
    )
    ids = db.session.scalars(
        select(User.id).where(User.email.like(f"{prefix}-%@example.org")).order_by(User.email)
    ).all()

    def status(i):
        if i < completed:
            return EnrolmentStatus.COMPLETED
        if i < completed + waitlisted:
            return EnrolmentStatus.WAITLISTED
        return EnrolmentStatus.ACTIVE

    db.session.execute(
        insert(Enrolment),
        [
            {
                "user_id": user_id,
                "course_id": course.id,
                "cohort_id": cohort.id if cohort else None,
                "status": status(i),
                "enrolled_at": now,
                "completed_at": now if i < completed else None,
            }
            for i, user_id in enumerate(ids)
        ],
    )
    db.session.flush()
    return ids


@pytest.fixture
def setting(db, make_organisation, make_user, make_course, make_cohort):
    """Two organisations, their managers, an admin, a course with a cohort and a few people."""
    org_a = make_organisation("Cardiff Family Centre")
    org_b = make_organisation("Swansea Prison Visitors")
    course = make_course(modules=2, title="M-PACT Practitioner Training", code="MPACT")
    cohort = make_cohort(course, name="Spring cohort")
    admin = make_user(Role.ADMIN, name="Ada Admin")
    manager_a = make_user(Role.ORG_MANAGER, name="Mia Manager", organisation_id=org_a.id)
    manager_b = make_user(Role.ORG_MANAGER, name="Ben Manager", organisation_id=org_b.id)
    alice = make_user(name="Alice Able", organisation_id=org_a.id)
    amir = make_user(name="Amir Apple", organisation_id=org_a.id)
    bella = make_user(name="Bella Bright", organisation_id=org_b.id)
    enrolments = {}
    for person in (alice, amir, bella):
        enrolments[person.name] = enrolling.enrol(admin, person, course, cohort)
    # Alice finished one module of two; Bella completed the course.
    module = content.active_modules([course.id])[course.id][0]
    db.session.add(
        ModuleProgress(enrolment_id=enrolments["Alice Able"].id, module_id=module.id, completed_at=utcnow())
    )
    bella_enrolment = enrolments["Bella Bright"]
    bella_enrolment.status = EnrolmentStatus.COMPLETED
    bella_enrolment.completed_at = utcnow()
    db.session.flush()
    return {
        "org_a": org_a,
        "org_b": org_b,
        "course": course,
        "cohort": cohort,
        "admin": admin,
        "manager_a": manager_a,
        "manager_b": manager_b,
        "enrolments": enrolments,
    }


# --- the course page -----------------------------------------------------------------------


def test_admin_sees_everyone_with_progress_and_rate(client, login_as, setting):
    login_as(setting["admin"])
    response = client.get(f"/manage/courses/{setting['course'].id}/progress")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for name in ("Alice Able", "Amir Apple", "Bella Bright"):
        assert name in page
    assert "Cardiff Family Centre" in page and "Swansea Prison Visitors" in page
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "33% completed — 1 of 3 people who took a place" in text
    assert "50%" in text  # Alice: one module of two
    assert "Spring cohort" in text


def test_completion_rate_reads_like_the_seed_document(
    client, login_as, db, setting, make_course, make_cohort
):
    course = make_course(title="M-PACT", code="MPACT2")
    add_people(db, setting["org_a"], course, count=11, completed=8, waitlisted=1)
    # Two more who took a place and then left still count; the waiting list does not.
    ids = db.session.scalars(select(Enrolment).where(Enrolment.course_id == course.id)).all()
    active = [e for e in ids if e.status == EnrolmentStatus.ACTIVE]
    assert len(active) == 2
    active[0].status = EnrolmentStatus.WITHDRAWN
    db.session.flush()
    login_as(setting["admin"])
    text = " ".join(
        re.sub(
            r"<[^>]+>", " ", client.get(f"/manage/courses/{course.id}/progress").get_data(as_text=True)
        ).split()
    )
    assert "80% completed — 8 of 10 people who took a place" in text


def test_org_manager_sees_only_own_staff_whatever_the_url(client, login_as, setting):
    login_as(setting["manager_a"])
    course, cohort, org_b = setting["course"], setting["cohort"], setting["org_b"]
    urls = [
        f"/manage/courses/{course.id}/progress",
        f"/manage/courses/{course.id}/progress?organisation_id={org_b.id}",
        f"/manage/courses/{course.id}/progress?status=completed&organisation_id={org_b.id}",
        f"/manage/cohorts/{cohort.id}/progress",
        f"/manage/cohorts/{cohort.id}/progress?organisation_id={org_b.id}",
        f"/manage/staff?organisation_id={org_b.id}",
        f"/manage/courses?organisation_id={org_b.id}",
        f"/manage/courses/{course.id}/progress.csv?organisation_id={org_b.id}",
        f"/manage/courses/{course.id}/progress.csv?cohort_id={cohort.id}&organisation_id={org_b.id}",
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.get_data(as_text=True)
        assert "Bella Bright" not in body, url
        assert "Swansea" not in body, url
    page = client.get(f"/manage/courses/{course.id}/progress").get_data(as_text=True)
    assert "Alice Able" in page and "Amir Apple" in page
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    # The rate is over the manager's own staff: nobody of the two completed.
    assert "0% completed — 0 of 2 people from Cardiff Family Centre who took a place" in text


def test_org_manager_with_no_staff_on_the_course_gets_an_empty_list(
    client, login_as, setting, make_organisation, make_user
):
    other = make_organisation("Newport School")
    manager = make_user(Role.ORG_MANAGER, organisation_id=other.id)
    login_as(manager)
    for url in (
        f"/manage/courses/{setting['course'].id}/progress",
        f"/manage/cohorts/{setting['cohort'].id}/progress",
    ):
        response = client.get(url)
        assert response.status_code == 200
        body = response.get_data(as_text=True)
        assert "Nobody from Newport School is enrolled" in body
        assert "Alice" not in body and "Bella" not in body


def test_org_manager_without_organisation_sees_nobody(client, login_as, setting, make_user):
    login_as(make_user(Role.ORG_MANAGER))
    body = client.get(f"/manage/courses/{setting['course'].id}/progress").get_data(as_text=True)
    assert "not linked to an organisation" in body
    assert "Alice" not in body and "Bella" not in body
    assert "not linked to an organisation" in client.get("/manage/staff").get_data(as_text=True)


def test_draft_courses_are_hidden_from_org_managers(client, login_as, setting, make_course, make_cohort):
    draft = make_course(status=CourseStatus.DRAFT)
    cohort = make_cohort(draft)
    login_as(setting["manager_a"])
    assert client.get(f"/manage/courses/{draft.id}/progress").status_code == 404
    assert client.get(f"/manage/cohorts/{cohort.id}/progress").status_code == 404
    assert client.get(f"/manage/courses/{draft.id}/progress.csv").status_code == 404
    assert client.get("/manage/courses/999999/progress").status_code == 404
    assert client.get("/manage/cohorts/999999/progress").status_code == 404


def test_admin_sees_draft_course_and_can_narrow_to_an_organisation(client, login_as, setting, make_course):
    login_as(setting["admin"])
    draft = make_course(status=CourseStatus.DRAFT)
    assert client.get(f"/manage/courses/{draft.id}/progress").status_code == 200
    body = client.get(
        f"/manage/courses/{setting['course'].id}/progress?organisation_id={setting['org_b'].id}"
    ).get_data(as_text=True)
    assert "Bella Bright" in body and "Alice Able" not in body
    # An organisation that does not exist is not a filter: the page says whose people it shows.
    body = client.get(f"/manage/courses/{setting['course'].id}/progress?organisation_id=999999").get_data(
        as_text=True
    )
    assert "Showing people from every organisation" in body


def test_trainees_and_assessors_are_refused(client, login_as, setting, make_user):
    for role in (Role.TRAINEE, Role.ASSESSOR, Role.LIAISON):
        login_as(make_user(role))
        assert client.get(f"/manage/courses/{setting['course'].id}/progress").status_code == 403
        assert client.get("/manage/staff").status_code == 403
        client.post("/account/logout")


def test_status_filter(client, login_as, setting):
    login_as(setting["admin"])
    body = client.get(f"/manage/courses/{setting['course'].id}/progress?status=completed").get_data(
        as_text=True
    )
    assert "Bella Bright" in body and "Alice Able" not in body
    # An unknown status is ignored rather than failing.
    body = client.get(f"/manage/courses/{setting['course'].id}/progress?status=bogus").get_data(as_text=True)
    assert "Alice Able" in body


def test_pages_of_fifty(client, login_as, db, setting, make_course):
    course = make_course()
    add_people(db, setting["org_a"], course, count=120, prefix="pg")
    login_as(setting["admin"])
    first = client.get(f"/manage/courses/{course.id}/progress").get_data(as_text=True)
    assert "PG Person 00000" in first and "PG Person 00049" in first and "PG Person 00050" not in first
    assert "Page 1 of 3" in first
    third = client.get(f"/manage/courses/{course.id}/progress?page=3").get_data(as_text=True)
    assert "PG Person 00119" in third and "PG Person 00099" not in third
    assert client.get(f"/manage/courses/{course.id}/progress?page=x").status_code == 400


# --- the chart -----------------------------------------------------------------------------


def test_chart_is_accessible_svg_without_inline_styles(client, login_as, setting):
    login_as(setting["admin"])
    page = client.get(f"/manage/courses/{setting['course'].id}/progress").get_data(as_text=True)
    assert 'role="img"' in page
    assert 'aria-labelledby="completions-chart-title completions-chart-desc"' in page
    assert '<title id="completions-chart-title">' in page
    assert "style=" not in page
    assert "<script>" not in page and "<script " not in page.replace('<script src="', "")
    assert "<details" in page and "Show these numbers as a table" in page
    this_month = database.today().strftime("%B %Y")
    assert "1 completion from" in page and f"in {this_month}" in page
    # The table says the same numbers: one completion this month.
    assert re.search(rf'<th scope="row" class="fw-normal">{this_month}</th><td class="text-end">1</td>', page)


def test_chart_scale_and_description():
    assert chart.nice_scale(0) == (1, 1)
    assert chart.nice_scale(1) == (1, 1)
    assert chart.nice_scale(5) == (6, 2)
    assert chart.nice_scale(13) == (15, 5)
    assert chart.nice_scale(230) == (300, 100)
    months = [(dt.date(2025, m, 1), 0) for m in range(1, 13)]
    assert chart.describe(months) == "No completions from January 2025 to December 2025."
    months[9] = (dt.date(2025, 10, 1), 5)
    months[2] = (dt.date(2025, 3, 1), 2)
    assert chart.describe(months) == (
        "7 completions from January 2025 to December 2025; the most in one month was 5, in October 2025."
    )
    svg = str(chart.completions_chart(months, chart_id="x<y", title="A & B <script>"))
    assert "A &amp; B &lt;script&gt;" in svg and "<script>" not in svg
    assert 'aria-labelledby="xy-title xy-desc"' in svg
    assert svg.count("<rect") == 2


def test_completions_by_month_counts_in_sql_per_organisation(db, setting):
    course = setting["course"]
    alice = setting["enrolments"]["Alice Able"]
    today = database.today()
    three_months_ago = (today.replace(day=1) - dt.timedelta(days=80)).replace(day=15)
    alice.status = EnrolmentStatus.COMPLETED
    alice.completed_at = dt.datetime.combine(three_months_ago, dt.time(12), tzinfo=dt.UTC)
    old = setting["enrolments"]["Amir Apple"]
    old.status = EnrolmentStatus.COMPLETED
    old.completed_at = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)  # outside the 12 months
    db.session.flush()
    everyone = dict(reports.completions_per_month(course.id))
    assert len(everyone) == 12 and sum(everyone.values()) == 2
    assert everyone[today.replace(day=1)] == 1  # Bella, of organisation B
    assert everyone[three_months_ago.replace(day=1)] == 1
    org_a = dict(reports.completions_per_month(course.id, organisation_id=setting["org_a"].id))
    assert sum(org_a.values()) == 1 and org_a[three_months_ago.replace(day=1)] == 1
    assert reports.completion_counts(course.id, organisation_id=setting["org_a"].id) == (2, 2)
    assert reports.completion_counts(
        course.id, setting["cohort"].id, organisation_id=setting["org_b"].id
    ) == (
        1,
        1,
    )


def test_rate_percent_never_rounds_to_all_or_nothing():
    assert reports.CompletionRate(199, 200).percent == 99
    assert reports.CompletionRate(1, 300).percent == 1
    assert reports.CompletionRate(8, 10).percent == 80
    assert reports.CompletionRate(0, 0).percent is None


# --- bounded queries -----------------------------------------------------------------------


def _count_page_queries(client, count_queries, url):
    client.get(url)  # warm caches (templates, the login's user)
    with count_queries() as counter:
        response = client.get(url)
    assert response.status_code == 200
    return counter.count


def test_cohort_page_queries_do_not_grow_with_enrolments(
    client, login_as, db, count_queries, setting, make_course, make_cohort
):
    small_course, big_course = make_course(), make_course()
    small, big = make_cohort(small_course), make_cohort(big_course)
    add_people(db, setting["org_a"], small_course, small, count=10, completed=3)
    add_people(db, setting["org_a"], big_course, big, count=1000, completed=300, waitlisted=20)
    for user in (setting["admin"], setting["manager_a"]):
        login_as(user)
        counts = [
            _count_page_queries(client, count_queries, f"/manage/cohorts/{cohort.id}/progress")
            for cohort in (small, big)
        ]
        assert counts[0] == counts[1], counts
        counts = [
            _count_page_queries(client, count_queries, f"/manage/courses/{course.id}/progress")
            for course in (small_course, big_course)
        ]
        assert counts[0] == counts[1], counts
        client.post("/account/logout")


def test_staff_and_courses_pages_queries_do_not_grow(
    client, login_as, db, count_queries, setting, make_course, make_organisation, make_user
):
    small_org, big_org = make_organisation(), make_organisation()
    courses = [make_course() for _ in range(3)]
    add_people(db, small_org, courses[0], count=3)
    for course in courses:
        add_people(db, big_org, course, count=80, completed=10)
    counts = {}
    for org in (small_org, big_org):
        manager = make_user(Role.ORG_MANAGER, organisation_id=org.id)
        login_as(manager)
        counts[org.id] = (
            _count_page_queries(client, count_queries, "/manage/staff"),
            _count_page_queries(client, count_queries, "/manage/courses"),
        )
        client.post("/account/logout")
    assert counts[small_org.id] == counts[big_org.id], counts


# --- staff and courses overviews -----------------------------------------------------------


def test_staff_overview_lists_own_people_with_their_courses(client, login_as, setting):
    login_as(setting["manager_a"])
    page = client.get("/manage/staff").get_data(as_text=True)
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "Alice Able" in text and "Amir Apple" in text and "Mia Manager" in text
    assert "Bella" not in text
    assert "M-PACT Practitioner Training : Active 50% complete" in text
    searched = client.get("/manage/staff?q=amir").get_data(as_text=True)
    assert "Amir Apple" in searched and "Alice Able" not in searched


def test_admin_picks_an_organisation_on_the_staff_page(client, login_as, setting):
    login_as(setting["admin"])
    page = client.get("/manage/staff").get_data(as_text=True)
    assert "Choose an organisation" in page and "Alice Able" not in page
    assert '<select class="form-select" id="organisation_id" name="organisation_id">' in page
    page = client.get(f"/manage/staff?organisation_id={setting['org_b'].id}").get_data(as_text=True)
    assert "Bella Bright" in page and "Alice Able" not in page
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "Completed on" in text


def test_courses_overview_counts_own_staff(client, login_as, setting, make_course):
    make_course(status=CourseStatus.DRAFT, title="Secret draft")
    login_as(setting["manager_a"])
    page = client.get("/manage/courses").get_data(as_text=True)
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "M-PACT Practitioner Training" in text
    assert "0% completed — 0 of 2 people from Cardiff Family Centre who took a place" in text
    assert "Secret draft" not in text
    client.post("/account/logout")
    login_as(setting["admin"])
    text = " ".join(re.sub(r"<[^>]+>", " ", client.get("/manage/courses").get_data(as_text=True)).split())
    assert "Secret draft" in text and "33% completed — 1 of 3 people who took a place" in text


# --- CSV export ----------------------------------------------------------------------------


def test_csv_export_is_streamed_and_formula_safe(client, login_as, db, setting, make_user):
    course = setting["course"]
    villain = make_user(name='=HYPERLINK("http://evil","x")', organisation_id=setting["org_a"].id)
    enrolling.enrol(setting["admin"], villain, course, setting["cohort"])
    login_as(setting["manager_a"])
    response = client.get(f"/manage/courses/{course.id}/progress.csv")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(reports.PROGRESS_COLUMNS)
    names = [row[0] for row in rows[1:]]
    assert names == sorted(names)
    assert '\'=HYPERLINK("http://evil","x")' in names
    assert "Bella Bright" not in text
    alice = next(row for row in rows if row[0] == "Alice Able")
    assert alice[2:6] == ["Cardiff Family Centre", "Spring cohort", "Active", "50"]


def test_csv_export_reads_in_batches(client, login_as, db, setting, make_course, monkeypatch):
    course = make_course()
    add_people(db, setting["org_a"], course, count=23, completed=5, prefix="csvb")
    monkeypatch.setattr(reports, "EXPORT_BATCH", 5)
    login_as(setting["admin"])
    text = client.get(f"/manage/courses/{course.id}/progress.csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(rows) == 24
    assert [row[0] for row in rows[1:]] == [f"CSVB Person {i:05d}" for i in range(23)]
    completed = [row for row in rows[1:] if row[4] == "Completed"]
    assert len(completed) == 5 and all(row[5] == "100" and row[6] for row in completed)


def test_staff_training_navigation_for_managers_and_admins():
    from flask import Flask

    from lms.courses.manage_views import init_manage_nav

    app = Flask(__name__)
    init_manage_nav(app)
    (item,) = app.extensions["lms_nav"]
    assert (item.label, item.endpoint) == ("Manage training", "course_manage.staff")
    assert item.roles == {Role.ORG_MANAGER, Role.ADMIN}


def test_ids_and_pages_beyond_any_table_are_not_found(client, login_as, setting):
    login_as(setting["admin"])
    huge = 10**20
    course_id = setting["course"].id
    for url in (
        f"/manage/courses/{huge}/progress",
        f"/manage/cohorts/{huge}/progress",
        f"/manage/courses/{huge}/progress.csv",
        f"/manage/courses/{course_id}/progress.csv?cohort_id={huge}",
        f"/manage/courses/{course_id}/progress?page={huge}",
    ):
        assert client.get(url).status_code == 404, url
    # Filters that name nothing are ignored.
    assert client.get(f"/manage/courses/{course_id}/progress?organisation_id={huge}").status_code == 200
    assert client.get(f"/manage/staff?organisation_id={huge}").status_code == 200


# --- a course set back to draft while staff are enrolled -----------------------------------


@pytest.fixture
def back_to_draft(setting):
    """The setting's course, with its people still enrolled, set back to draft by the admin."""
    catalogue.save_course(setting["admin"], setting["course"], {"status": CourseStatus.DRAFT})
    assert setting["course"].status == CourseStatus.DRAFT
    return setting


def test_org_manager_reports_on_a_draft_course_their_staff_are_on(
    back_to_draft, make_organisation, make_user
):
    course, cohort = back_to_draft["course"], back_to_draft["cohort"]
    for manager in (back_to_draft["manager_a"], back_to_draft["manager_b"], back_to_draft["admin"]):
        assert reports.may_report_on(manager, course)
        assert reports.get_course_for_report(manager, course.id) is course
        assert reports.get_cohort_for_report(manager, cohort.id) is cohort
    # A manager none of whose staff ever enrolled on the draft does not see it.
    stranger = make_user(Role.ORG_MANAGER, organisation_id=make_organisation("Newport School").id)
    assert not reports.may_report_on(stranger, course)
    with pytest.raises(NotFound):
        reports.get_course_for_report(stranger, course.id)
    with pytest.raises(NotFound):
        reports.get_cohort_for_report(stranger, cohort.id)
    # Nor does a manager without an organisation.
    assert not reports.may_report_on(make_user(Role.ORG_MANAGER), course)


def test_staff_who_left_a_draft_course_keep_it_reportable(db, back_to_draft):
    """Withdrawn staff still count: the staff page lists every enrolment, whatever its status."""
    for enrolment in back_to_draft["enrolments"].values():
        enrolment.status = EnrolmentStatus.WITHDRAWN
    db.session.flush()
    assert reports.may_report_on(back_to_draft["manager_a"], back_to_draft["course"])


def test_draft_course_link_on_the_staff_page_opens_for_the_manager(client, login_as, back_to_draft):
    course, cohort = back_to_draft["course"], back_to_draft["cohort"]
    login_as(back_to_draft["manager_a"])
    staff = client.get("/manage/staff").get_data(as_text=True)
    progress_url = f"/manage/courses/{course.id}/progress"
    assert f'href="{progress_url}"' in staff
    text = " ".join(re.sub(r"<[^>]+>", " ", staff).split())
    assert "M-PACT Practitioner Training Draft : Active 50% complete" in text
    # The link and the page agree: the progress page opens, for the manager's own staff only.
    response = client.get(progress_url)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Alice Able" in page and "Amir Apple" in page and "Bella Bright" not in page
    assert "This course is a draft: trainees cannot open it until it is published." in page
    assert "Enrol people from a CSV file" not in page
    # Every link the progress page offers opens too: its cohort and its CSV export.
    assert f'href="/manage/cohorts/{cohort.id}/progress"' in page
    assert client.get(f"/manage/cohorts/{cohort.id}/progress").status_code == 200
    assert client.get(f"/manage/courses/{course.id}/progress.csv").status_code == 200
    # The courses overview lists it too, with its status.
    overview = " ".join(re.sub(r"<[^>]+>", " ", client.get("/manage/courses").get_data(as_text=True)).split())
    assert "M-PACT Practitioner Training (MPACT) Draft" in overview


def test_draft_course_stays_hidden_from_a_manager_with_no_staff_on_it(
    client, login_as, back_to_draft, make_organisation, make_user
):
    other = make_organisation("Newport School")
    login_as(make_user(Role.ORG_MANAGER, organisation_id=other.id, name="Nia Manager"))
    course = back_to_draft["course"]
    assert "M-PACT Practitioner Training" not in client.get("/manage/staff").get_data(as_text=True)
    assert "M-PACT Practitioner Training" not in client.get("/manage/courses").get_data(as_text=True)
    assert client.get(f"/manage/courses/{course.id}/progress").status_code == 404
    assert client.get(f"/manage/cohorts/{back_to_draft['cohort'].id}/progress").status_code == 404
