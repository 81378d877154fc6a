"""A trainee's way through a course in a real browser: find it, enrol, study, pass a check, finish.

The course and the trainee are made for each test through the course and account services
in the live server's database, so the flow starts from nothing and does not depend on the
demo seed's content. Every page on the way passes axe-core's WCAG 2.2 A/AA rules; the flow
runs at a desktop's and at a phone's size, where no page may scroll sideways.

Set ``LMS_SCREENSHOTS`` to a folder (e.g. ``/tmp/e2e``) to keep a screenshot of each step.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import DESKTOP, PHONE

pytestmark = pytest.mark.browser

PASSWORD = "a long trainee password for the browser"


@dataclass(frozen=True)
class Question:
    """A knowledge-check question as the trainee sees it."""

    prompt: str
    right: str
    wrong: str
    explanation: str


QUESTIONS = (
    Question(
        prompt="Who do you tell first about a safeguarding concern?",
        right="The designated safeguarding lead",
        wrong="A colleague on another team",
        explanation="The designated safeguarding lead decides what happens next, so tell them the same day.",
    ),
    Question(
        prompt="When do you write down what you saw?",
        right="As soon as you can",
        wrong="At the end of the month",
        explanation="Notes written straight away are the most accurate.",
    ),
)


@dataclass(frozen=True)
class Training:
    """What the fixture made: one course, its cohort, and a trainee with no enrolment."""

    course_id: int
    code: str
    title: str
    cohort: str
    modules: tuple[str, ...]
    email: str
    name: str


@pytest.fixture
def training(live_app) -> Training:
    """A published, self-enrol online course of 3 modules (a check on the 2nd), an open cohort, a trainee."""
    from lms import database
    from lms.accounts.services import create_user
    from lms.courses import catalogue, cohorts
    from lms.courses import content as course_content
    from lms.courses.models import CourseStatus, DeliveryFormat
    from lms.extensions import db
    from lms.organisations.models import Organisation, OrganisationKind
    from lms.permissions import Role

    suffix = uuid.uuid4().hex[:6].upper()
    modules = (
        f"Spotting the signs {suffix}",
        f"Recording a concern {suffix}",
        f"Passing it on {suffix}",
    )
    with live_app.app_context():
        provider = Organisation(name=f"Browser Test Provider {suffix}", kind=OrganisationKind.PROVIDER)
        db.session.add(provider)
        db.session.flush()
        course = catalogue.save_course(
            None,
            None,
            {
                "code": f"E2E{suffix}",
                "title": f"Safeguarding walkthrough {suffix}",
                "summary": "What to do when you are worried about someone.\n\nThree short modules.",
                "provider_id": provider.id,
                "delivery_format": DeliveryFormat.ONLINE,
                "notional_hours": 2,
                "status": CourseStatus.PUBLISHED,
                "is_self_enrol": True,
            },
        )
        contents = (
            "## Why it matters\n\nMost concerns start with **something small**.\n\n"
            "- a change in mood\n- missed sessions",
            "## What to write\n\nWrite what you saw and heard, in the person's own words.",
            "## Who to tell\n\nTell the designated safeguarding lead the same day.",
        )
        saved = [
            course_content.save_module(
                None, course, None, {"title": title, "content": content, "estimated_minutes": 10}
            )
            for title, content in zip(modules, contents, strict=True)
        ]
        course_content.save_knowledge_check(
            None,
            saved[1],
            100,
            [
                course_content.QuestionInput(
                    prompt=q.prompt, options=[q.wrong, q.right], correct=1, explanation=q.explanation
                )
                for q in QUESTIONS
            ],
        )
        today = database.today()
        cohort = cohorts.save_cohort(
            None,
            course,
            None,
            {
                "name": f"Online cohort {suffix}",
                "starts_on": today,
                "ends_on": today + dt.timedelta(days=60),
                "capacity": 12,
            },
        )
        email = f"trainee-{suffix.lower()}@example.org"
        create_user(None, email=email, name=f"Robin Tester {suffix}", roles={Role.TRAINEE}, password=PASSWORD)
        made = Training(
            course_id=course.id,
            code=course.code,
            title=course.title,
            cohort=cohort.name,
            modules=modules,
            email=email,
            name=f"Robin Tester {suffix}",
        )
        db.session.commit()
        db.session.remove()
    return made


class Steps:
    """Checks each page a step lands on: axe, no sideways scrolling on a phone, a screenshot."""

    def __init__(self, page, axe_check, label: str):
        self.page = page
        self.axe_check = axe_check
        self.label = label
        self.is_phone = page.viewport_size["width"] < 576
        folder = os.environ.get("LMS_SCREENSHOTS")
        self.folder = Path(folder) if folder else None
        self.count = 0

    def check(self, name: str) -> None:
        self.count += 1
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"{self.label}-{self.count:02d}-{name}.png"
            self.page.screenshot(path=str(path), full_page=True)
        self.axe_check(self.page)
        if self.is_phone:
            fits = self.page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
            assert fits, f"{name} ({self.page.url}) is wider than a phone's screen"

    def go(self, link: str) -> None:
        """Follow a link of the main navigation, opening the phone's menu first."""
        toggler = self.page.get_by_role("button", name="Menu")
        if toggler.is_visible():
            toggler.click()
        self.page.locator("#main-nav").get_by_role("link", name=link, exact=True).click()


def _answer(page, choices: list[str]) -> None:
    for n, (question, choice) in enumerate(zip(QUESTIONS, choices, strict=True), start=1):
        group = page.get_by_role("group", name=f"Question {n} of {len(QUESTIONS)}: {question.prompt}")
        group.get_by_label(choice, exact=True).check()
    page.get_by_role("button", name="Submit answers").click()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_trainee_finds_enrols_studies_and_completes_a_course(new_page, login, axe_check, training, viewport):
    """From the catalogue to a completed course, checking each page on the way."""
    page = new_page(viewport)
    steps = Steps(page, axe_check, "phone" if viewport == PHONE else "desktop")
    first, second, third = training.modules
    heading = page.get_by_role("heading", level=1)
    flash = page.locator(".flash-messages")

    # A new trainee: nothing on the dashboard yet.
    login(page, training.email, PASSWORD)
    panel = page.get_by_role("region", name="My learning")
    expect(panel).to_contain_text("You are not working on a course at the moment.")
    steps.check("dashboard-empty")

    # The catalogue: search by code and keep to online courses.
    steps.go("Courses")
    expect(heading).to_have_text("Courses")
    steps.check("catalogue")
    search = page.get_by_role("search", name="Find courses")
    search.get_by_label("Search by title, code or description").fill(training.code)
    search.get_by_label("Delivery format").select_option(label="Online")
    search.get_by_role("button", name="Show courses").click()
    expect(page.get_by_role("heading", name="1 course found")).to_be_visible()
    results = page.get_by_role("list", name="1 course found").get_by_role("listitem")
    expect(results).to_have_count(1)
    expect(results).to_contain_text(training.code)
    steps.check("catalogue-search")

    # The course page: enrol into the cohort.
    results.get_by_role("link", name=training.title).click()
    expect(heading).to_have_text(training.title)
    modules = page.get_by_role("list", name="Modules").get_by_role("listitem")
    expect(modules).to_have_count(3)
    expect(modules.nth(1)).to_contain_text("Knowledge check")
    # Before enrolling, the modules are listed but cannot be opened.
    expect(modules.get_by_role("link")).to_have_count(0)
    dates = page.get_by_role("table", name="Runs of this course taking enrolments")
    expect(dates.get_by_role("row", name=training.cohort)).to_contain_text("12 of 12 left")
    steps.check("course")
    # The Enrol section points to the cohorts' table, where each cohort has its own button.
    page.get_by_role("region", name="Enrol").get_by_role("link", name="Dates and places").click()
    expect(page).to_have_url(re.compile("#dates$"))
    dates.get_by_role("button", name=f"Enrol for {training.cohort}").click()
    expect(flash).to_contain_text(f"You are enrolled on {training.title} ({training.cohort}).")
    enrolment = page.get_by_role("region", name="Your enrolment")
    expect(enrolment).to_contain_text("Active")
    expect(enrolment).to_contain_text(f"Cohort: {training.cohort}")
    expect(enrolment).to_contain_text("0% complete")
    expect(page.get_by_role("button", name=re.compile("^Enrol for"))).to_have_count(0)
    steps.check("course-enrolled")

    # Module 1: read it, mark it complete; on to module 2. Showing the page records the opening
    # with a POST from lms.js (CSRF token included); the GET of the page records nothing.
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/open")) as opened:
        modules.get_by_role("link", name=first).click()
    assert opened.value.status == 204
    expect(heading).to_have_text(first)
    expect(page.get_by_text("Module 1 of 3")).to_be_visible()
    # The Markdown is rendered.
    expect(page.locator(".module-content").get_by_role("heading", name="Why it matters")).to_be_visible()
    expect(page.locator(".module-content strong")).to_have_text("something small")
    steps.check("module-1")
    page.get_by_role("button", name=f"Mark “{first}” as complete").click()
    expect(flash).to_contain_text(f"“{first}” is marked as complete.")
    expect(heading).to_have_text(second)
    expect(page.get_by_text("Module 2 of 3")).to_be_visible()
    expect(page.get_by_role("progressbar", name=f"Your progress in {training.title}")).to_have_attribute(
        "value", "33"
    )
    check = page.get_by_role("region", name="Knowledge check")
    expect(check).to_contain_text("To pass, answer every question correctly.")
    steps.check("module-2-check")

    # Sending no answers: an error summary, focused, linking to the first option of each question.
    page.get_by_role("button", name="Submit answers").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("There is a problem")
    expect(summary.get_by_role("listitem")).to_have_text(["Answer question 1.", "Answer question 2."])
    expect(summary).to_be_focused()
    expect(page).to_have_title(re.compile("^Error: "))
    steps.check("module-2-check-errors")
    summary.get_by_role("link", name="Answer question 2.").click()
    expect(page.get_by_label(QUESTIONS[1].wrong, exact=True)).to_be_focused()

    # A wrong answer: not passed, each answer marked and explained, and a way to try again.
    _answer(page, [QUESTIONS[0].wrong, QUESTIONS[1].right])
    result = page.locator("#check-result")
    expect(result).to_be_focused()
    expect(result.get_by_role("heading")).to_have_text("Not passed yet")
    expect(result).to_contain_text("You scored 50% (1 of 2 correct). The pass mark is 100%.")
    answers = page.get_by_role("list", name="Your answers").get_by_role("listitem")
    expect(answers.nth(0)).to_contain_text(f"Your answer: {QUESTIONS[0].wrong}")
    expect(answers.nth(0)).to_contain_text("Incorrect")
    expect(answers.nth(0)).to_contain_text(QUESTIONS[0].explanation)
    expect(answers.nth(1)).to_contain_text("Correct")
    expect(answers.nth(1)).to_contain_text(QUESTIONS[1].explanation)
    expect(page.get_by_text("Not completed yet")).to_be_visible()
    steps.check("module-2-not-passed")

    page.get_by_role("link", name="Try again").click()
    _answer(page, [q.right for q in QUESTIONS])
    expect(result).to_be_focused()
    expect(result.get_by_role("heading")).to_have_text("Passed")
    expect(result).to_contain_text("You scored 100% (2 of 2 correct).")
    expect(result).to_contain_text("This module is complete.")
    expect(page.get_by_role("progressbar", name=f"Your progress in {training.title}")).to_have_attribute(
        "value", "67"
    )
    steps.check("module-2-passed")

    # My learning: two of three modules, and where to continue.
    steps.go("My learning")
    expect(heading).to_have_text("My learning")
    row = page.get_by_role("row").filter(has_text=training.title)
    expect(row).to_contain_text("Active")
    expect(row).to_contain_text("67% complete")
    expect(row.get_by_role("link", name=f"Continue {training.title}")).to_have_attribute(
        "href", re.compile(r"/modules/\d+$")
    )
    expect(row).to_contain_text(third)
    steps.check("my-learning")

    # The dashboard's panel says the same and continues at module 3.
    steps.go("Dashboard")
    expect(heading).to_have_text(f"Welcome, {training.name}")
    expect(panel).to_contain_text(training.title)
    expect(panel).to_contain_text("67% complete")
    steps.check("dashboard-in-progress")
    panel.get_by_role("link", name=f"Continue: {third}").click()

    # Module 3, the last: completing it completes the course.
    expect(heading).to_have_text(third)
    expect(page.get_by_text("Module 3 of 3")).to_be_visible()
    steps.check("module-3")
    page.get_by_role("button", name=f"Mark “{third}” as complete").click()
    expect(flash).to_contain_text(f"Congratulations: you have completed {training.title}.")
    expect(heading).to_have_text(training.title)
    expect(enrolment).to_contain_text("Completed")
    expect(enrolment).to_contain_text("Completed on")
    expect(enrolment).to_contain_text("100% complete")
    expect(modules.get_by_text("Done", exact=True)).to_have_count(3)
    steps.check("course-completed")

    steps.go("My learning")
    expect(heading).to_have_text("My learning")
    expect(row).to_contain_text("Completed")
    expect(row).to_contain_text("100% complete")
    expect(row.get_by_role("link", name=re.compile("^Continue"))).to_have_count(0)
    steps.check("my-learning-completed")

    steps.go("Dashboard")
    expect(heading).to_have_text(f"Welcome, {training.name}")
    expect(panel).to_contain_text("You have completed 1 course.")
    expect(panel).not_to_contain_text("67% complete")
    steps.check("dashboard-completed")
