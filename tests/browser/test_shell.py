"""The page shell as people use it: sign-in, dashboards, admin pages, API pages, the phone menu."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from lms.demo.seed import DEMO_USERS

from .conftest import PHONE, WCAG_TAGS

pytestmark = pytest.mark.browser

#: The shell's own pages are also held to axe-core's best practices (landmarks, heading order).
STRICT = (*WCAG_TAGS, "best-practice")
ADMIN = "admin@example.org"
TRAINEE = "trainee@example.org"


def _fits_the_width(page) -> bool:
    """The page does not scroll sideways."""
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize(("email", "name"), [(email, name) for email, name, *_ in DEMO_USERS])
def test_each_role_dashboard_is_accessible(page, login, axe_check, email, name):
    """Every demo role signs in, lands on its dashboard, and the page passes axe."""
    login(page, email)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {name}")
    expect(page.get_by_role("link", name="Dashboard")).to_have_attribute("aria-current", "page")
    axe_check(page, STRICT)


def test_public_pages_are_accessible(page, axe_check):
    """The start page, sign-in, the reset request and a missing page pass axe."""
    for path, heading in [
        ("/", "Practitioner training and accreditation"),
        ("/account/login", "Sign in"),
        ("/account/reset", "Reset your password"),
        ("/no-such-page", "Page not found"),
    ]:
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        axe_check(page, STRICT)


def test_login_errors_show_an_accessible_summary(page, axe_check):
    """An empty sign-in shows an error summary, focused, linking to each field; it passes axe."""
    page.goto("/account/login")
    page.get_by_role("button", name="Sign in").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("There is a problem")
    expect(summary.get_by_role("link", name="Enter your email address.")).to_have_attribute("href", "#email")
    expect(summary.get_by_role("link", name="Enter your password.")).to_have_attribute("href", "#password")
    expect(summary).to_be_focused()
    expect(page.get_by_label("Email address")).to_have_attribute("aria-invalid", "true")
    expect(page).to_have_title(re.compile("^Error: Sign in"))
    axe_check(page, STRICT)
    summary.get_by_role("link", name="Enter your password.").click()
    expect(page.get_by_label("Password", exact=True)).to_be_focused()


def test_admin_people_and_user_pages_are_accessible(page, login, axe_check):
    """The People list, one person's page, the add-a-person form with errors and the audit log pass axe."""
    login(page, ADMIN)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="People").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("People")
    axe_check(page, STRICT)

    page.get_by_role("link", name="Sam Trainee").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sam Trainee")
    expect(page.get_by_role("group", name="Roles").get_by_label("Trainee")).to_be_checked()
    axe_check(page, STRICT)

    page.goto("/admin/users/new")
    page.get_by_role("button", name="Save").click()
    summary = page.get_by_role("alert")
    # The summary lists the problems in the order of the fields on the page.
    problems = summary.get_by_role("listitem")
    expect(problems).to_have_text(["Enter the person's name.", "Enter an email address."])
    axe_check(page, STRICT)

    page.goto("/admin/audit")
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
    axe_check(page, STRICT)


def test_api_docs_page_is_accessible(page, axe_check):
    """The API documentation is public and passes axe."""
    page.goto("/api/v1/docs")
    expect(page.get_by_role("heading", level=1)).to_contain_text("API")
    axe_check(page)


def test_token_and_password_pages_are_accessible(page, login, axe_check):
    """The token page passes axe before and after creating a token; the password form's errors too."""
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    login(page, TRAINEE)
    page.goto("/account/tokens")
    axe_check(page, STRICT)
    page.get_by_label("Token name").fill("Browser test token")
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#new-token")
    expect(token).to_have_text(re.compile(r"\S{20,}"))
    page.get_by_role("button", name="Copy the token").click()
    expect(page.locator("#copy-status")).to_have_text("Copied.")
    assert page.evaluate("() => navigator.clipboard.readText()") == token.inner_text().strip()
    axe_check(page, STRICT)

    page.get_by_role("link", name="Change password").first.click()
    page.get_by_role("button", name=re.compile("password", re.I)).click()
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    axe_check(page, STRICT)


def test_phone_menu_opens(new_page, login, axe_check):
    """At a phone's width the navigation folds behind a Menu button that opens it."""
    page = new_page(PHONE)
    login(page, ADMIN)
    toggler = page.get_by_role("button", name="Menu")
    people = page.locator("#main-nav").get_by_role("link", name="People")
    expect(toggler).to_be_visible()
    expect(toggler).to_have_attribute("aria-expanded", "false")
    expect(people).to_be_hidden()
    toggler.click()
    expect(toggler).to_have_attribute("aria-expanded", "true")
    expect(people).to_be_visible()
    axe_check(page, STRICT)
    people.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("People")


def test_phone_pages_fit_the_width(new_page, login, axe_check):
    """On a phone, tables stack into cards and no page scrolls sideways."""
    page = new_page(PHONE)
    login(page, ADMIN)
    for path in ["/dashboard", "/admin/audit", "/account/tokens", "/api/v1/docs", "/admin/users"]:
        page.goto(path)
        assert _fits_the_width(page), f"{path} is wider than a phone's screen"
    page.get_by_role("link", name="Sam Trainee").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sam Trainee")
    assert _fits_the_width(page), "a person's page is wider than a phone's screen"
    page.go_back()
    # Each person is a card whose values carry their column's name.
    expect(page.get_by_role("columnheader", name="Email")).to_have_count(1)
    email_cell = page.get_by_role("cell", name="admin@example.org")
    expect(email_cell).to_have_attribute("data-label", "Email")
    assert email_cell.bounding_box()["x"] < 50, "the table did not stack on a phone"
    axe_check(page, STRICT)
