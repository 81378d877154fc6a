"""The course page for each demo role: axe finds nothing, and a keyboard can scroll a wide table.

A cohort whose location is one long unbroken string (a joining link) makes the "Dates and
places" table wider than the page at a desktop's width, so its wrapper really scrolls: the
wrapper is then a region named by the table's caption and in the tab order (axe-core's
``scrollable-region-focusable``). At 360 px the table stacks into cards and nothing scrolls.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from playwright.sync_api import expect

from lms.demo.seed import DEMO_USERS

from .conftest import DESKTOP

pytestmark = pytest.mark.browser

NARROW = {"width": 360, "height": 740}
DATES = "Runs of this course taking enrolments"
#: No spaces or hyphens: the browser cannot wrap it, so the table must scroll on a desktop.
JOINING_LINK = "https://meet.example.org/rooms/" + "MPACTPractitionerTrainingJoiningRoom" * 3


@dataclass(frozen=True)
class Courses:
    """The demo's first course and one whose cohort table is wider than a desktop page."""

    demo_id: int
    wide_id: int


@pytest.fixture(scope="module")
def courses(live_app) -> Courses:
    """A published course with an open cohort whose location cannot wrap; and the demo's M-PACT course."""
    import datetime as dt

    from sqlalchemy import select

    from lms import database
    from lms.courses import catalogue, cohorts
    from lms.courses.models import Course, CourseStatus, DeliveryFormat
    from lms.extensions import db
    from lms.organisations.models import Organisation

    suffix = uuid.uuid4().hex[:6].upper()
    with live_app.app_context():
        demo = db.session.scalars(select(Course).where(Course.code == "MPACT-PT")).one()
        provider = db.session.scalars(
            select(Organisation).where(Organisation.name == "Action on Addiction")
        ).one()
        course = catalogue.save_course(
            None,
            None,
            {
                "code": f"WIDE{suffix}",
                "title": f"Supervision in practice {suffix}",
                "summary": "Reflective supervision for practitioners.",
                "provider_id": provider.id,
                "delivery_format": DeliveryFormat.ONLINE,
                "notional_hours": 6,
                "status": CourseStatus.PUBLISHED,
                "is_self_enrol": True,
            },
        )
        today = database.today()
        cohorts.save_cohort(
            None,
            course,
            None,
            {
                "name": f"Evening cohort {suffix}",
                "starts_on": today + dt.timedelta(days=14),
                "ends_on": today + dt.timedelta(days=60),
                "capacity": 10,
                "location": JOINING_LINK,
            },
        )
        made = Courses(demo_id=demo.id, wide_id=course.id)
        db.session.commit()
        db.session.remove()
    return made


def _scrolls_sideways(locator) -> bool:
    return locator.evaluate("element => element.scrollWidth > element.clientWidth")


@pytest.mark.parametrize("email", [email for email, *_ in DEMO_USERS])
def test_course_page_passes_axe_for_each_role(new_page, login, axe_check, courses, email):
    """Desktop and 360 px, the demo course and the wide one: no violation, the table region is reachable."""
    for viewport in (DESKTOP, NARROW):
        page = new_page(viewport)
        login(page, email)
        for course_id in (courses.demo_id, courses.wide_id):
            response = page.goto(f"/courses/{course_id}")
            assert response.status == 200, f"/courses/{course_id} answered {response.status} for {email}"
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            axe_check(page)
            assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"), (
                f"/courses/{course_id} scrolls sideways at {viewport['width']} px for {email}"
            )
        # The wide course's cohort table: a region named by its caption, in the tab order.
        region = page.get_by_role("region", name=DATES)
        expect(region).to_have_attribute("tabindex", "0")
        expect(region.get_by_role("table", name=DATES)).to_be_visible()
        if viewport == DESKTOP:
            assert _scrolls_sideways(region), "the test's cohort table should be wider than the page"
            region.focus()
            expect(region).to_be_focused()
            page.keyboard.press("ArrowRight")
            page.wait_for_function(
                "element => element.scrollLeft > 0", arg=region.element_handle(), timeout=5_000
            )
        else:
            # On a narrow screen the rows stack into cards and the long location wraps.
            assert not _scrolls_sideways(region), "the stacked cohort table scrolls sideways at 360 px"
