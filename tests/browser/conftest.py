"""Browser tests: the app served on a local port, driven by headless Chromium, checked with axe-core.

The live server has its own application and SQLite file database, built by the real
migrations and the demo seed; it does not use the rollback ``db`` fixture of
``tests/conftest.py``, because requests from a browser come from another thread.

Chromium is Debian's (``/usr/bin/chromium``) and axe-core comes from npm into
``node_modules``; ``scripts/install-system-deps.sh`` installs both. When either is missing
every browser test is skipped with a message saying so.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AXE_PATH = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: The WCAG 2.2 A and AA rules of axe-core (WCAG 2.2 added AA rules only).
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa")
DESKTOP = {"width": 1280, "height": 900}
#: Generous: the suite shares two cores with everything else a developer or CI runs.
TIMEOUT_MS = 15_000
PHONE = {"width": 390, "height": 844}


def chromium_path() -> Path | None:
    """The Chromium binary: ``LMS_CHROMIUM`` if set, else Debian's ``chromium`` on the PATH."""
    configured = os.environ.get("LMS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    path = Path(configured)
    return path if path.is_file() and os.access(path, os.X_OK) else None


def missing_requirement() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if chromium_path() is None:
        return "Chromium not installed: run scripts/install-system-deps.sh (Debian package 'chromium')"
    if not AXE_PATH.is_file():
        return "axe-core not installed: run scripts/install-system-deps.sh (npm ci into node_modules)"
    return None


def pytest_collection_modifyitems(config, items):
    """Skip every browser test, before any fixture is built, when Chromium or axe-core is missing."""
    reason = missing_requirement()
    if reason is None:
        return
    here = Path(__file__).parent
    for item in items:
        if item.get_closest_marker("browser") and here in Path(item.path).parents:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def live_app(tmp_path_factory):
    """A separate application on its own SQLite file, migrated and seeded with the demo."""
    from flask_migrate import upgrade

    from lms import create_app
    from lms.demo.seed import seed_demo
    from lms.extensions import db

    folder = tmp_path_factory.mktemp("live")
    app = create_app(
        {
            "SECRET_KEY": "browser-test-secret-key-long-enough-to-be-accepted",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'live.sqlite3'}",
            "MAIL_BACKEND": "memory",
            "STORAGE_PATH": str(folder / "files"),
            # Cheap hashes: every test signs in, and real scrypt takes about a second each time.
            "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
            # Failed sign-ins in tests must not lock anyone out.
            "LOGIN_LIMIT_PER_ACCOUNT": "1000 per minute",
            "LOGIN_LIMIT_PER_ADDRESS": "1000 per minute",
        }
    )
    with app.app_context():
        upgrade()
        seed_demo()
        db.session.commit()
        db.session.remove()
    yield app
    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture(scope="session")
def live_server(live_app) -> Iterator[str]:
    """Serve ``live_app`` on 127.0.0.1 and a free port in a background thread; yields its base URL."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        """Leaves out the access log, which would bury a failure's output; errors are still logged."""

        def log_request(self, *args, **kwargs):
            pass

    server = make_server("127.0.0.1", 0, live_app, threaded=True, request_handler=QuietHandler)
    base_url = f"http://127.0.0.1:{server.server_port}"
    live_app.config["BASE_URL"] = base_url
    thread = threading.Thread(target=server.serve_forever, name="lms-live-server", daemon=True)
    thread.start()
    yield base_url
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session."""
    reason = missing_requirement()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(chromium_path()), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser, live_server):
    """Factory for pages in fresh browser contexts (own cookies), closed after the test.

    Each page records Content-Security-Policy violations and script errors: a page that
    only works with inline script or style is broken for real users, so the fixture fails
    the test when any were seen.
    """
    contexts = []
    problems: list[str] = []

    def make(viewport: dict | None = None):
        context = browser.new_context(base_url=live_server, viewport=viewport or DESKTOP, locale="en-GB")
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.on(
            "console",
            lambda msg: (
                problems.append(f"{page.url}: {msg.text}")
                if msg.type == "error" and "Content Security Policy" in msg.text
                else None
            ),
        )
        page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))
        return page

    yield make
    for context in contexts:
        context.close()
    assert not problems, "The browser reported errors:\n" + "\n".join(problems)


@pytest.fixture
def page(new_page):
    """A desktop-sized page (1280 wide) in a fresh context."""
    return new_page()


@pytest.fixture(scope="session")
def axe_source() -> str:
    """The axe-core script."""
    return AXE_PATH.read_text(encoding="utf-8")


def _format_violations(url: str, violations: list[dict]) -> str:
    lines = [f"{len(violations)} accessibility violation(s) on {url}:"]
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation.get('impact')}): {violation['help']}")
        lines.append(f"  {violation['helpUrl']}")
        for node in violation["nodes"]:
            summary = " ".join((node.get("failureSummary") or "").split())
            lines.append(f"    at {json.dumps(node['target'])}: {summary[:400]}")
    return "\n".join(lines)


@pytest.fixture
def axe_check(axe_source) -> Callable:
    """``axe_check(page)`` runs axe-core's WCAG 2.2 A/AA rules on the page; fails on any violation.

    ``page.add_script_tag`` injects an inline ``<script>`` even when given a ``path``, and
    the app's CSP (``script-src 'self'``) blocks it. ``bypass_csp=True`` on the context
    would let it through, but it would also hide real CSP breakage from the tests. So the
    source goes in through ``page.evaluate``: DevTools evaluation is not subject to the
    page's CSP, and the pages keep their real policy.
    """

    def check(page, tags: tuple[str, ...] = WCAG_TAGS, exclude: list[str] | None = None) -> None:
        if not page.evaluate("() => typeof window.axe === 'object'"):
            page.evaluate(axe_source)
        context = {"exclude": [[selector] for selector in exclude]} if exclude else "document"
        results = page.evaluate(
            """async ([context, tags]) => {
                const target = context === "document" ? document : context;
                // Only the violations are read: axe then skips the details of passes, which is faster.
                const results = await axe.run(target, {
                    runOnly: {type: "tag", values: tags}, resultTypes: ["violations"],
                });
                return {violations: results.violations.map(v => ({
                    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                    nodes: v.nodes.map(n => ({target: n.target, failureSummary: n.failureSummary})),
                }))};
            }""",
            [context, list(tags)],
        )
        violations = results["violations"]
        assert not violations, _format_violations(page.url, violations)

    return check


@pytest.fixture
def login() -> Callable:
    """``login(page, email, password)`` signs in through the real form and waits for the dashboard."""
    from lms.demo.seed import DEMO_PASSWORD

    def sign_in(page, email: str, password: str = DEMO_PASSWORD) -> None:
        page.goto("/account/login")
        page.get_by_label("Email address").fill(email)
        page.get_by_label("Password", exact=True).fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/dashboard")

    return sign_in
