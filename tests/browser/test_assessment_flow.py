"""The whole assessment loop in a real browser: submit, mark with a rubric, moderate, release,
refer, resubmit, pass, and the pass completes the course.

The course, assignment, assessors and trainee are made for each test through the services
in the live server's database. Every page on the way passes axe-core's WCAG 2.2 A/AA rules,
and the trainee's steps also run at a phone's width, where no page may scroll sideways.
Set ``LMS_SCREENSHOTS`` to a folder to keep a screenshot of each step.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import pytest
from playwright.sync_api import expect

from .conftest import DESKTOP, PHONE
from .test_trainee_flow import Steps

pytestmark = pytest.mark.browser

PASSWORD = "a long password for the assessment walk"


@dataclass(frozen=True)
class World:
    """What the fixture made."""

    course_id: int
    assignment_id: int
    title: str
    trainee: str
    trainee_name: str
    marker: str
    moderator: str
    admin: str


@pytest.fixture
def world(live_app) -> World:
    """A published course with no modules and one moderated, rubric-marked assignment of two attempts."""
    from lms.accounts.services import create_user
    from lms.assessments.assignments import save_assignment, save_scheme, set_pool
    from lms.courses import catalogue
    from lms.courses.enrolment import enrol
    from lms.courses.models import CourseStatus, DeliveryFormat
    from lms.database import utcnow
    from lms.extensions import db
    from lms.organisations.models import Organisation, OrganisationKind
    from lms.permissions import Role

    suffix = uuid.uuid4().hex[:6].upper()
    with live_app.app_context():
        provider = Organisation(name=f"Assessment Walk Provider {suffix}", kind=OrganisationKind.PROVIDER)
        db.session.add(provider)
        db.session.flush()
        admin = create_user(
            None,
            email=f"admin-{suffix.lower()}@example.org",
            name=f"Ada Admin {suffix}",
            roles={Role.ADMIN},
            password=PASSWORD,
        )
        course = catalogue.save_course(
            admin,
            None,
            {
                "code": f"AS{suffix}",
                "title": f"Reflective practice {suffix}",
                "summary": "A course completed by its assignment.",
                "provider_id": provider.id,
                "delivery_format": DeliveryFormat.ONLINE,
                "status": CourseStatus.PUBLISHED,
                "is_self_enrol": False,
            },
        )
        assignment = save_assignment(
            admin,
            course,
            None,
            {
                "title": f"Case study {suffix}",
                "brief": "Write a **reflective** case study of a family you worked with.",
                "due_at": utcnow() + dt.timedelta(days=14),
                "accepts_text": True,
                "word_limit": 500,
                "max_attempts": 2,
                "is_moderated": True,
                "moderation_share": 0,
            },
        )
        save_scheme(
            admin,
            assignment,
            {
                "kind": "rubric",
                "pass_mark": 10,
                "criteria": [
                    {
                        "title": "Reflection",
                        "levels": [
                            {"points": 0, "descriptor": "No reflection"},
                            {"points": 5, "descriptor": "Describes what happened"},
                            {"points": 10, "descriptor": "Reflects critically on practice"},
                        ],
                    },
                    {
                        "title": "Principles",
                        "levels": [
                            {"points": 0, "descriptor": "Not mentioned"},
                            {"points": 5, "descriptor": "Names the principles"},
                            {"points": 10, "descriptor": "Applies the principles"},
                        ],
                    },
                ],
            },
        )
        # Made in this order, the marker has the lower id: with equal loads the work goes to them.
        marker = create_user(
            None,
            email=f"marker-{suffix.lower()}@example.org",
            name=f"Mo Marker {suffix}",
            roles={Role.ASSESSOR},
            password=PASSWORD,
        )
        moderator = create_user(
            None,
            email=f"moderator-{suffix.lower()}@example.org",
            name=f"Di Moderator {suffix}",
            roles={Role.ASSESSOR},
            password=PASSWORD,
        )
        set_pool(admin, course, [marker.id, moderator.id])
        trainee = create_user(
            None,
            email=f"writer-{suffix.lower()}@example.org",
            name=f"Wren Writer {suffix}",
            roles={Role.TRAINEE},
            password=PASSWORD,
        )
        enrol(admin, trainee, course)
        made = World(
            course.id,
            assignment.id,
            assignment.title,
            trainee.email,
            trainee.name,
            marker.email,
            moderator.email,
            admin.email,
        )
        db.session.commit()
        db.session.remove()
    return made


def _write_and_submit(page, steps: Steps, world: World, text: str, attempt: int) -> None:
    page.goto(f"/assignments/{world.assignment_id}")
    steps.check(f"assignment-attempt-{attempt}")
    page.get_by_label("Your answer").fill(text)
    expect(page.locator("[data-word-count]")).to_contain_text(f"{len(text.split())} words of 500")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Your draft is saved. It is not submitted yet.")).to_be_visible()
    page.get_by_role("button", name="Submit for marking").click()
    expect(page.get_by_text("Confirm that the work is your own").first).to_be_visible()
    steps.check(f"declaration-missing-{attempt}")
    page.get_by_label("I confirm that this is my own work").check()
    page.get_by_role("button", name="Submit for marking").click()
    expect(page.get_by_text(f"Attempt {attempt} is submitted")).to_be_visible()
    expect(page.get_by_role("heading", name=f"Attempt {attempt}: submitted, being marked")).to_be_visible()
    steps.check(f"receipt-{attempt}")


def _mark(page, steps: Steps, world: World, levels: list[str], feedback: str) -> None:
    page.goto("/marking")
    steps.check("queue")
    page.get_by_role("link", name=f"{world.trainee_name}, attempt").first.click()
    steps.check("marking-page")
    for level in levels:
        page.get_by_label(level).check()
    expect(page.locator("[data-running-total]")).to_contain_text("Total:")
    page.get_by_label("Feedback to the trainee").fill(feedback)
    page.get_by_role("button", name="Finish marking").click()
    expect(page.get_by_text("Marking finished")).to_be_visible()


def _release(page, steps: Steps, world: World) -> None:
    page.goto(f"/admin/assignments/{world.assignment_id}/submissions")
    steps.check("admin-submissions")
    page.locator("input[name=submission_ids]").first.check()
    page.get_by_role("button", name="Release marks").click()
    expect(page.get_by_text("1 mark released")).to_be_visible()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_submit_mark_moderate_release_refer_resubmit_pass(new_page, login, axe_check, world, viewport):
    trainee_page = new_page(viewport)
    trainee = Steps(trainee_page, axe_check, f"assess-{viewport['width']}-trainee")
    login(trainee_page, world.trainee, PASSWORD)
    _write_and_submit(
        trainee_page, trainee, world, "We met the family weekly and I described what happened.", 1
    )

    def staff_page_for(email: str):
        # A fresh browser context per person: their own cookies, as on their own computer.
        page = new_page(DESKTOP)
        login(page, email, PASSWORD)
        return page, Steps(page, axe_check, f"assess-{viewport['width']}-{email.split('-')[0]}")

    staff_page, staff = staff_page_for(world.marker)
    _mark(
        staff_page,
        staff,
        world,
        ["5: Describes what happened", "0: Not mentioned"],
        "Link it to the principles.",
    )
    # A referral is always moderated: it waits for the second assessor.
    staff_page, staff = staff_page_for(world.moderator)
    staff_page.goto("/marking/moderation")
    staff.check("moderation-queue")
    staff_page.get_by_role("link", name=f"{world.trainee_name}, attempt 1").click()
    staff.check("moderate")
    staff_page.get_by_label("Agree with the first mark").check()
    staff_page.get_by_role("button", name="Record moderation").click()
    expect(staff_page.get_by_text("Moderation recorded")).to_be_visible()
    staff_page, staff = staff_page_for(world.admin)
    _release(staff_page, staff, world)

    trainee_page.goto(f"/assignments/{world.assignment_id}")
    expect(trainee_page.get_by_text("Link it to the principles.")).to_be_visible()
    expect(trainee_page.get_by_text("You can resubmit")).to_be_visible()
    trainee.check("referred")
    _write_and_submit(
        trainee_page,
        trainee,
        world,
        "We met the family weekly. Children first: I put the children's voices at the centre.",
        2,
    )

    staff_page, staff = staff_page_for(world.marker)
    _mark(
        staff_page,
        staff,
        world,
        ["10: Reflects critically on practice", "10: Applies the principles"],
        "Well done.",
    )
    staff_page, staff = staff_page_for(world.admin)
    _release(staff_page, staff, world)

    trainee_page.goto(f"/assignments/{world.assignment_id}")
    expect(trainee_page.get_by_text("You passed this assignment.")).to_be_visible()
    trainee.check("passed")
    trainee_page.goto(f"/courses/{world.course_id}")
    expect(trainee_page.get_by_text("Completed on")).to_be_visible()
    trainee.check("course-completed")
