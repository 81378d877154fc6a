"""The admin's overview of an assignment, its chart, and the assessor's dashboard panel."""

from __future__ import annotations

import datetime as dt
import re
import statistics

import pytest

from lms.assessments import allocation, marking, moderation
from lms.assessments.assignments import current_version, set_pool
from lms.assessments.models import MarkingState, ModerationDecision, Outcome
from lms.assessments.overview import days_and_hours, overview_of, turnaround
from lms.assessments.panels import marking_summary
from lms.assessments.submissions import current_enrolment, open_draft, save_draft
from lms.courses import chart
from lms.courses.models import EnrolmentStatus
from lms.database import utcnow
from lms.errors import NotAllowed
from lms.extensions import db
from lms.permissions import Role
from tests.assessments.factories import levels_for

PASS, REFER_OR_FAIL = [10, 5], [5, 0]


def _text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def mark_it(assessments_admin):
    """``mark_it(marker, submission, points, release=False)``: finish a mark (and release it)."""

    def finish(marker, submission, points, *, release=False):
        version = current_version(submission.assignment)
        marking.save_mark(
            marker, submission, {"levels": levels_for(version, points)}, expected_version=None, is_final=True
        )
        if release:
            marking.release(assessments_admin, [submission])
        return submission

    return finish


@pytest.fixture
def small(
    make_course, make_assignment, make_user, make_submission, make_enrolment, mark_it, assessments_admin
):
    """A moderated assignment with one attempt in each situation the overview counts."""
    admin = assessments_admin
    course = make_course(modules=0)
    assignment = make_assignment(course, is_moderated=True, moderation_share=0)
    ann, ben, cat = (make_user(Role.ASSESSOR, name=f"{n} Assessor") for n in ("Ann", "Ben", "Cat"))
    trainees = [make_user(Role.TRAINEE, name=f"Trainee {i}") for i in range(10)]
    unallocated = make_submission(assignment, trainees[0])  # no pool yet: nobody to allocate to
    set_pool(admin, course, [ann.id, ben.id, cat.id])

    def handed_in(trainee, marker):
        submission = make_submission(assignment, trainee)
        allocation.allocate(admin, [submission], marker)
        return submission

    base = utcnow() - dt.timedelta(days=20)
    passed = mark_it(ann, handed_in(trainees[1], ann), PASS, release=True)
    passed.submitted_at, passed.released_at = base, base + dt.timedelta(days=2)
    referred = mark_it(ben, handed_in(trainees[2], ben), REFER_OR_FAIL)
    assert referred.moderator_id == ann.id  # the least busy other assessor, by id
    moderation.moderate(ann, referred, ModerationDecision.AGREED, expected_version=referred.mark.version)
    marking.release(admin, [referred])
    referred.submitted_at, referred.released_at = base, base + dt.timedelta(days=5, hours=6)
    failed = mark_it(ann, handed_in(trainees[2], ann), REFER_OR_FAIL)  # the second, last attempt
    assert (
        failed.attempt == 2 and failed.state == MarkingState.IN_MODERATION and failed.moderator_id == ben.id
    )
    mark_it(ann, handed_in(trainees[3], ann), PASS)
    in_marking = handed_in(trainees[4], ben)
    version = current_version(assignment)
    marking.save_mark(ben, in_marking, {"levels": levels_for(version, [5, 5])}, expected_version=None)
    late = handed_in(trainees[5], cat)
    late.is_late, late.marking_due_at = True, utcnow() - dt.timedelta(days=1)
    set_pool(admin, course, [ann.id, ben.id])  # Cat leaves the pool, still holding work
    make_enrolment(trainees[7], course)  # enrolled, nothing started
    make_enrolment(trainees[8], course)
    draft = open_draft(trainees[8], assignment)
    save_draft(trainees[8], draft, "Started.", draft.draft_revision)
    make_enrolment(trainees[9], course)
    current_enrolment(trainees[9], assignment).status = EnrolmentStatus.WITHDRAWN  # not counted
    db.session.flush()
    return {
        "assignment": assignment,
        "admin": admin,
        "people": (ann, ben, cat),
        "unallocated": unallocated,
    }


def test_the_figures_of_a_small_assignment(small, count_queries):
    admin, (ann, ben, cat) = small["admin"], small["people"]
    admin.roles  # noqa: B018  (loaded before counting: the request has them already)
    with count_queries() as counter:
        o = overview_of(admin, small["assignment"])
    assert counter.count == 6, counter.statements

    # Trainee 1 passed and so completed the course; Trainee 9 withdrew: neither is active.
    assert (o.enrolled, o.not_submitted, o.drafting) == (7, 2, 1)
    assert (o.submitted, o.trainees_submitted, o.late) == (7, 6, 1)
    assert (o.unallocated, o.overdue, o.awaiting_moderator, o.to_release) == (1, 1, 0, 1)
    assert o.by_state == {
        MarkingState.NOT_MARKED: 2,
        MarkingState.IN_MARKING: 1,
        MarkingState.MARKED: 1,
        MarkingState.IN_MODERATION: 1,
        MarkingState.READY_FOR_RELEASE: 0,
        MarkingState.RELEASED: 2,
    }
    loads = [
        (m.user_id, m.is_in_pool, m.allocated, m.to_mark, m.overdue, m.marked, m.to_moderate)
        for m in o.markers
    ]
    assert loads == [
        (ann.id, True, 3, 0, 0, 3, 0),
        (ben.id, True, 2, 1, 0, 1, 1),
        (cat.id, False, 1, 1, 1, 0, 0),
    ]
    assert [m.name for m in o.markers] == ["Ann Assessor", "Ben Assessor", "Cat Assessor"]
    assert o.released_outcomes == {Outcome.PASS: 1, Outcome.REFER: 1, Outcome.FAIL: 0}
    assert o.finished_outcomes == {Outcome.PASS: 2, Outcome.REFER: 1, Outcome.FAIL: 1}
    # Two days and five and a quarter days: percentile_cont gives 3.625 and 4.925 days.
    assert o.turnaround.count == 2
    assert o.turnaround.median == dt.timedelta(days=3, hours=15)
    assert abs(o.turnaround.p90 - dt.timedelta(days=4.925)) < dt.timedelta(seconds=1)


def test_an_assignment_with_nothing_handed_in(make_assignment, make_pool, make_user, assessments_admin):
    assignment = make_assignment()
    make_pool(assignment.course, people=[make_user(Role.ASSESSOR, name="Zed")])
    o = overview_of(assessments_admin, assignment)
    assert (o.enrolled, o.submitted, o.not_submitted, o.turnaround.count) == (0, 0, 0, 0)
    assert o.turnaround.median is None
    assert [(m.name, m.allocated) for m in o.markers] == [("Zed", 0)]
    assert set(o.by_state.values()) == {0}


def test_only_admins_get_the_overview(small):
    with pytest.raises(NotAllowed):
        overview_of(small["people"][0], small["assignment"])


@pytest.mark.parametrize(
    "hours",
    [
        [30],
        [1, 5, 24, 48, 48, 72, 240],
        [0.25, 300, 2, 2, 9, 11, 13, 17, 100, 120, 121],
    ],
)
def test_turnaround_is_percentile_cont_over_released_attempts(make_assignment, make_submission, hours):
    assignment = make_assignment()
    base = utcnow() - dt.timedelta(days=30)
    for h in hours:
        submission = make_submission(assignment)
        submission.state = MarkingState.RELEASED
        submission.submitted_at, submission.released_at = base, base + dt.timedelta(hours=h)
    make_submission(assignment)  # not released: not counted
    db.session.flush()
    found = turnaround(assignment, len(hours))
    seconds = sorted(h * 3600 for h in hours)
    median = statistics.median(seconds)
    p90 = statistics.quantiles(seconds, n=10, method="inclusive")[8] if len(seconds) > 1 else seconds[0]
    assert found.count == len(hours)
    assert abs(found.median.total_seconds() - median) < 1
    assert abs(found.p90.total_seconds() - p90) < 1


def test_days_and_hours():
    assert days_and_hours(None) == ""
    assert days_and_hours(dt.timedelta(minutes=20)) == "less than an hour"
    assert days_and_hours(dt.timedelta(minutes=40)) == "1 hour"
    assert days_and_hours(dt.timedelta(hours=24)) == "1 day"
    assert days_and_hours(dt.timedelta(days=3, hours=15, minutes=10)) == "3 days 15 hours"
    assert days_and_hours(dt.timedelta(days=4, hours=22, minutes=12)) == "4 days 22 hours"


# --- the page ---------------------------------------------------------------------------------


def test_the_page_shows_the_figures_with_links_a_chart_and_its_table(client, login_as, small):
    assignment = small["assignment"]
    login_as(small["admin"])
    response = client.get(f"/admin/assignments/{assignment.id}/overview")
    assert response.status_code == 200
    page = _text(response)
    base = f"/admin/assignments/{assignment.id}/submissions"
    assert f'href="/admin/assignments/{assignment.id}/overview">Overview</a>' in page
    assert 'aria-current="page" href="/admin/assignments/' in page
    # Figures link to the submissions they count.
    assert f'<a href="{base}?state=unallocated">1<span class="visually-hidden"> not allocated' in page
    assert f'<a href="{base}">7<span class="visually-hidden"> submitted attempts' in page
    assert f'<a href="{base}?state=not_marked">2<span' in page
    assert f'<a href="{base}?state=released">2<span' in page
    assert f'href="{base}?state=ready_for_release"' not in page  # none to show: no link to an empty list
    assert "by 6 trainees" in page and "1 with a draft started" in page
    # The chart: accessible SVG, no script, no inline style, the same numbers in words.
    assert 'role="img"' in page and 'aria-labelledby="states-chart-title states-chart-desc"' in page
    assert (
        f'<title id="states-chart-title">Submitted work by marking state: {assignment.title}</title>' in page
    )
    assert (
        '<desc id="states-chart-desc">Not marked: 2; In marking: 1; Marked: 1; In moderation: 1; '
        "Ready for release: 0; Released: 2. 7 submissions in all.</desc>"
    ) in page
    assert page.count("<rect") == 5  # one bar per state with work in it
    assert "style=" not in page
    assert "<script>" not in page and "<script " not in page.replace('<script src="', "")
    # Marker load and outcomes.
    assert "Cat Assessor</td>" not in page and "Cat Assessor <span" in page and "Not in the course" in page
    assert re.search(r"Ann Assessor</td>\s*<td[^>]*>3</td>\s*<td[^>]*>0</td>", page)
    assert "3 days 15 hours" in page and "4 days 22 hours" in page and "Over 2 released attempts" in page


def test_an_empty_assignment_page_says_so(client, login_as, make_assignment, assessments_admin):
    assignment = make_assignment()
    login_as(assessments_admin)
    page = _text(client.get(f"/admin/assignments/{assignment.id}/overview"))
    assert "No marks have been released yet." in page
    assert "This course has no assessors" in page
    assert "No submissions to show." in page  # the chart's description
    assert "<rect" not in page


def test_no_such_assignment_is_404(client, login_as, assessments_admin):
    login_as(assessments_admin)
    assert client.get("/admin/assignments/999999/overview").status_code == 404


@pytest.mark.parametrize("role", [Role.ASSESSOR, Role.TRAINEE, Role.ORG_MANAGER, Role.LIAISON])
def test_non_admins_are_refused(client, login_as, make_user, make_assignment, role):
    assignment = make_assignment()
    login_as(make_user(role))
    assert client.get(f"/admin/assignments/{assignment.id}/overview").status_code == 403


def test_signed_out_people_are_sent_to_sign_in(client, make_assignment):
    response = client.get(f"/admin/assignments/{make_assignment().id}/overview")
    assert response.status_code == 302 and "/account/login" in response.headers["Location"]


def test_the_page_makes_the_same_queries_for_2_and_30_submissions(
    client,
    login_as,
    make_course,
    make_assignment,
    make_pool,
    make_submission,
    mark_it,
    assessments_admin,
    count_queries,
):
    def build(n: int):
        course = make_course(modules=0)
        assignment = make_assignment(course, is_moderated=True, moderation_share=0)
        first, second = make_pool(course, 2)
        for i in range(n):
            submission = make_submission(assignment)
            marker = first if submission.marker_id == first.id else second
            if i % 5 == 0:
                mark_it(marker, submission, PASS, release=True)
            elif i % 5 == 1:
                mark_it(marker, submission, PASS)
            elif i % 5 == 2:
                mark_it(marker, submission, REFER_OR_FAIL)  # into moderation
            elif i % 5 == 3:
                submission.is_late = True
        db.session.commit()
        return assignment

    small, large = build(2), build(30)
    login_as(assessments_admin)
    client.get(f"/admin/assignments/{small.id}/overview")  # warm up
    counts = []
    for assignment in (small, large):
        with count_queries() as counter:
            response = client.get(f"/admin/assignments/{assignment.id}/overview")
        assert response.status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1], counts
    assert counts[0] <= 15, counts
    assert "30 submissions in all" in _text(response)


# --- the chart --------------------------------------------------------------------------------


def test_category_chart_draws_each_bar_and_escapes_labels():
    svg = str(
        chart.category_chart(
            [("A & B", 3), ("<script>", 0), ("Ready for release", 12)],
            chart_id="my chart!",
            title="Work <by> state",
            noun=("submission", "submissions"),
        )
    )
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"') and svg.endswith("</svg>")
    assert 'role="img"' in svg and 'aria-labelledby="mychart-title mychart-desc"' in svg
    assert '<title id="mychart-title">Work &lt;by&gt; state</title>' in svg
    assert "A &amp; B: 3; &lt;script&gt;: 0; Ready for release: 12. 15 submissions in all." in svg
    assert "<script>" not in svg and "style=" not in svg
    assert svg.count("<rect") == 2  # no bar for a zero
    # The longest bar ends at the top of the scale (15), the other in proportion.
    widths = [float(w) for w in re.findall(r'<rect x="6.0" y="[\d.]+" width="([\d.]+)"', svg)]
    assert widths[1] == pytest.approx(widths[0] * 4, abs=0.2)
    assert chart.describe_bars([("Pass", 0)], ("mark", "marks")) == "No marks to show."
    assert chart.describe_bars([("Pass", 1)], ("mark", "marks")) == "Pass: 1. 1 mark in all."


# --- the assessor's dashboard panel -----------------------------------------------------------


@pytest.fixture
def marking_work(
    make_course, make_assignment, make_user, make_pool, make_submission, mark_it, assessments_admin
):
    """An assessor ("me") with work in each state the panel counts, and a colleague's work."""
    course = make_course(modules=0)
    assignment = make_assignment(course, is_moderated=True, moderation_share=0)
    me = make_user(Role.ASSESSOR, name="Mo Marker")
    other = make_user(Role.ASSESSOR, name="Oz Other")
    make_pool(course, people=[me, other])

    def handed_in(marker):
        submission = make_submission(assignment)
        allocation.allocate(assessments_admin, [submission], marker)
        return submission

    overdue = handed_in(me)
    overdue.marking_due_at = utcnow() - dt.timedelta(hours=1)
    handed_in(me)
    draft = handed_in(me)
    marking.save_mark(
        me, draft, {"levels": levels_for(current_version(assignment), [5, 5])}, expected_version=None
    )
    referred = mark_it(other, handed_in(other), REFER_OR_FAIL)
    assert referred.moderator_id == me.id
    mark_it(me, handed_in(me), PASS, release=True)
    long_ago = mark_it(me, handed_in(me), PASS, release=True)
    long_ago.released_at = utcnow() - dt.timedelta(days=10)
    handed_in(other)
    db.session.flush()
    return me, other


def test_the_panel_counts_what_the_assessor_has_to_do_in_one_query(marking_work, count_queries):
    me, other = marking_work
    with count_queries() as counter:
        summary = marking_summary(me)
    assert counter.count == 1
    assert (summary.not_marked, summary.in_marking, summary.overdue) == (2, 1, 1)
    assert (summary.to_moderate, summary.released_recently, summary.to_mark) == (1, 1, 3)
    assert not summary.is_clear
    theirs = marking_summary(other)
    assert (theirs.not_marked, theirs.to_moderate, theirs.released_recently) == (1, 0, 0)


def test_the_dashboard_shows_the_panel_with_links_to_the_queues(client, login_as, marking_work):
    login_as(marking_work[0])
    page = _text(client.get("/dashboard"))
    assert 'id="marking-panel-title">Marking</h2>' in page
    assert '<a href="/marking?state=not_marked">2 submissions waiting to be marked</a>' in page
    assert '<a href="/marking?state=in_marking">1 mark started and not finished</a>' in page
    assert '<a href="/marking?state=overdue">1 overdue: past its marking due date</a>' in page
    assert '<a href="/marking/moderation">1 mark waiting for your moderation</a>' in page
    assert '<a href="/marking?state=released">1 of your marks released in the last 7 days</a>' in page
    # The panel stands in for the plain link card to the queue.
    assert '<h2 class="h5 card-title"><a href="/marking">Marking</a></h2>' not in page


def test_an_assessor_with_nothing_to_do_is_told_so(client, login_as, make_user):
    person = make_user(Role.ASSESSOR)
    assert marking_summary(person).is_clear
    login_as(person)
    page = _text(client.get("/dashboard"))
    assert "Nothing is waiting for you to mark or moderate." in page
    assert '<a href="/marking">Your marking queue</a>' in page


def test_trainees_do_not_get_the_panel(client, login_as, make_user):
    login_as(make_user(Role.TRAINEE))
    assert "marking-panel-title" not in _text(client.get("/dashboard"))
