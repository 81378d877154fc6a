"""Follow every link as each demo role: no page may be a dead end, break axe or log an error.

Each role signs in and starts at ``/dashboard``. Every same-origin link (``a[href]``; no
forms, no POST) on each page visited is checked:

- it must answer without a 4xx/5xx and must not land on the sign-in page: a page may only
  link to pages its reader can open;
- the first :data:`PER_PATTERN` pages of each URL pattern (numbers stand for ids, query
  values are ignored, so ``/courses/<id>/modules/<id>`` is one pattern) are opened in
  Chromium, checked with axe-core's WCAG 2.2 A/AA rules and crawled in turn, up to
  :data:`MAX_PAGES` pages a role; every other link is only requested (a ``GET`` outside the
  page, sharing its cookies), up to :data:`MAX_LINKS`;
- the browser must log no console error and no script error on any page opened.

Each link is requested that way before it is opened, so that downloads (CSV exports, files)
and JSON documents are never opened in the browser: they are known by :data:`DOWNLOADS`, or
by a ``Content-Type`` that is not HTML. Sign-out is never requested. A failure names the
page, the page it was linked from and the link's text. New pages are covered as soon as
something links to them.

Before the crawl the data gets the case that once left a dead link: a course that an admin
set back to draft while staff of the org manager's organisation were enrolled on it. The
manager must still be able to open its progress report from the staff page, and the trainee
enrolled on it must not be linked to a course page they can no longer open.
"""

from __future__ import annotations

import re
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from lms.demo.seed import DEMO_PASSWORD, DEMO_USERS

pytestmark = pytest.mark.browser

#: Pages opened in the browser (and checked with axe) per role.
MAX_PAGES = 70
#: Pages opened per URL pattern: ``/courses/<id>/modules/<id>`` is one pattern.
PER_PATTERN = 2
#: Links only requested (not opened in the browser) per role, on top of the pages opened.
MAX_LINKS = 400
#: Downloads: requested, never opened in the browser.
DOWNLOADS = (
    re.compile(r"\.csv$"),
    re.compile(r"/resources/\d+(/file)?$"),
)
#: Never requested: signing out would end the crawl.
NEVER = (re.compile(r"^/account/logout$"),)
#: Where a link lands when the reader may not open it without signing in again.
SIGN_IN = "/account/login"


@dataclass(frozen=True)
class Link:
    """A link found on a page: where it goes, where it was, what it said."""

    url: str
    source: str
    text: str

    def describe(self) -> str:
        """``/x (linked from /y as "text")``."""
        return f'{_path(self.url)} (linked from {_path(self.source)} as "{self.text}")'


@dataclass
class Crawl:
    """What one role's crawl saw."""

    visited: list[str] = field(default_factory=list)
    checked: int = 0
    problems: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    patterns: dict[str, int] = field(default_factory=dict)


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def normalise(url: str) -> str:
    """The URL without its fragment, with its query parameters in a stable order."""
    parts = urlsplit(url)
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, ""))


def pattern(url: str) -> str:
    """The URL's shape: ids as ``<id>``, query values left out (``/courses/<id>?page``)."""
    parts = urlsplit(url)
    names = sorted({name for name, _value in parse_qsl(parts.query, keep_blank_values=True)})
    return re.sub(r"/\d+(?=/|$|\.)", "/<id>", parts.path) + ("?" + "&".join(names) if names else "")


def _is_html(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip() == "text/html"


def _links_on(page) -> list[tuple[str, str]]:
    """``(absolute href, text)`` of every link on the page, in document order."""
    return page.eval_on_selector_all(
        "a[href]",
        """links => links.map(a => [a.href,
            (a.innerText || a.getAttribute('aria-label') || a.title || '').trim().replace(/\\s+/g, ' ')])""",
    )


def crawl(page, axe_check, base_url: str, start: str = "/dashboard") -> Crawl:
    """Open ``start`` and everything reachable from it by links, within the bounds above."""
    result = Crawl()
    origin = urlsplit(base_url)[:2]
    current = {"link": Link(url=base_url + start, source=base_url + SIGN_IN, text="Sign in")}

    def on_console(message):
        if message.type == "error":
            where = message.location.get("url") or ""
            detail = f" ({_path(where)})" if where else ""
            result.problems.append(f"console error on {current['link'].describe()}: {message.text}{detail}")

    def on_error(error):
        result.problems.append(f"script error on {current['link'].describe()}: {error}")

    def on_response(response):
        if response.status >= 400 and response.request.resource_type != "document":
            where = current["link"].describe()
            result.problems.append(f"{response.status} for {_path(response.url)} on {where}")

    page.on("console", on_console)
    page.on("pageerror", on_error)
    page.on("response", on_response)

    to_visit: deque[Link] = deque([current["link"]])
    result.seen.add(normalise(current["link"].url))
    result.patterns[pattern(current["link"].url)] = 1

    def request(link: Link):
        """The link's answer (outside the page, with its cookies), or None if it is a problem."""
        response = page.request.get(link.url, max_redirects=5, fail_on_status_code=False)
        if response.status >= 400:
            result.problems.append(f"{response.status} at {link.describe()}")
        elif urlsplit(response.url).path == SIGN_IN:
            result.problems.append(f"sent to sign in from {link.describe()}")
        else:
            return response
        return None

    while to_visit:
        link = to_visit.popleft()
        current["link"] = link
        # Asked for first, so that a download or a JSON document is never opened in the page
        # (the browser would then ask for /favicon.ico, which is no page's business).
        answer = request(link)
        if answer is None or not _is_html(answer.headers.get("content-type")):
            continue
        response = page.goto(link.url)
        status = response.status if response else 0
        if status >= 400 or urlsplit(page.url).path == SIGN_IN:
            result.problems.append(f"{status or 'no answer'} at {link.describe()}")
            continue
        if _path(page.url) in result.visited:
            continue  # already seen under another address (a redirect)
        result.visited.append(_path(page.url))
        try:
            axe_check(page)
        except AssertionError as error:
            result.problems.append(f"on {link.describe()}:\n{error}")
        for href, text in _links_on(page):
            parts = urlsplit(href)
            if parts.scheme not in ("http", "https") or parts[:2] != origin:
                continue  # mail, telephone and other sites' links
            url = normalise(href)
            path = urlsplit(url).path
            if url in result.seen or any(p.search(path) for p in NEVER):
                continue
            result.seen.add(url)
            found = Link(url=url, source=page.url, text=text)
            shape = pattern(url)
            is_download = any(p.search(path) for p in DOWNLOADS)
            if (
                not is_download
                and result.patterns.get(shape, 0) < PER_PATTERN
                and len(result.visited) + len(to_visit) < MAX_PAGES
            ):
                result.patterns[shape] = result.patterns.get(shape, 0) + 1
                to_visit.append(found)
            elif result.checked < MAX_LINKS:
                result.checked += 1
                request(found)
    return result


# --- the data: a course set back to draft with the manager's staff on it ------------------


@dataclass(frozen=True)
class DraftCase:
    """A course that went back to draft, and the trainee of the manager's organisation on it."""

    course_id: int
    email: str
    password: str


@pytest.fixture(scope="module")
def draft_case(live_app) -> DraftCase:
    """A course, a new trainee of the manager's organisation on it; then the admin sets it back to draft."""
    import datetime as dt

    from sqlalchemy import select

    from lms import database
    from lms.accounts.models import User
    from lms.accounts.services import create_user
    from lms.courses import catalogue, cohorts
    from lms.courses import content as course_content
    from lms.courses import enrolment as enrolling
    from lms.courses.models import CourseStatus, DeliveryFormat
    from lms.demo.people import DEMO_ADMIN, DEMO_MANAGER
    from lms.extensions import db
    from lms.permissions import Role

    suffix = uuid.uuid4().hex[:6].upper()
    with live_app.app_context():
        admin = db.session.scalars(select(User).where(User.email == DEMO_ADMIN)).one()
        manager = db.session.scalars(select(User).where(User.email == DEMO_MANAGER)).one()
        course = catalogue.save_course(
            admin,
            None,
            {
                "code": f"DRAFT{suffix}",
                "title": f"Working with families under stress {suffix}",
                "summary": "A course that went back to draft while people were on it.",
                "provider_id": admin.organisation_id,
                "delivery_format": DeliveryFormat.ONLINE,
                "notional_hours": 3,
                "status": CourseStatus.PUBLISHED,
                "is_self_enrol": True,
            },
        )
        for title in ("Listening first", "Planning together"):
            module = {"title": title, "content": "Read this.", "estimated_minutes": 15}
            course_content.save_module(admin, course, None, module)
        today = database.today()
        cohort = cohorts.save_cohort(
            admin,
            course,
            None,
            {"name": f"Spring cohort {suffix}", "starts_on": today, "ends_on": today + dt.timedelta(days=40)},
        )
        email = f"staff-{suffix.lower()}@example.org"
        trainee = create_user(
            admin,
            email=email,
            name=f"Jo Staff {suffix}",
            roles={Role.TRAINEE},
            password=DEMO_PASSWORD,
            organisation_id=manager.organisation_id,
        )
        enrolling.enrol(admin, trainee, course, cohort)
        catalogue.save_course(admin, course, {"status": CourseStatus.DRAFT})
        case = DraftCase(course_id=course.id, email=email, password=DEMO_PASSWORD)
        db.session.commit()
        db.session.remove()
    return case


READERS = [(email, name) for email, name, *_ in DEMO_USERS] + [("draft-case", "a trainee on a draft course")]


@pytest.mark.parametrize(("email", "name"), READERS, ids=[email.split("@")[0] for email, _name in READERS])
def test_every_linked_page_opens_passes_axe_and_logs_no_error(
    page, login, axe_check, live_server, draft_case, email, name
):
    """Crawl from the dashboard as each role: no dead link, no axe violation, no console error."""
    if email == "draft-case":
        email = draft_case.email
    started = time.monotonic()
    login(page, email, DEMO_PASSWORD)
    result = crawl(page, axe_check, live_server)
    seconds = time.monotonic() - started
    opened, checked = len(result.visited), result.checked
    print(f"\n{name}: {opened} pages opened, {checked} more links checked, in {seconds:.1f} s")
    assert "/dashboard" in result.visited
    if email == "manager@example.org":
        # The draft case: the staff page links to its progress report, which opened (or was checked).
        assert normalise(f"{live_server}/manage/courses/{draft_case.course_id}/progress") in result.seen
    problems = "\n".join(result.problems)
    assert not result.problems, f"{name}'s crawl found {len(result.problems)} problem(s):\n{problems}"
