"""The notification pages, as the person sees them, and the unread count in the navigation."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from lms.audit import AuditEntry
from lms.notifications import services
from tests.notifications.conftest import DECISION, DIGEST, REMINDER


def _text(response) -> str:
    return response.get_data(as_text=True)


def _items(html: str) -> list[str]:
    """The list items of the notification list, in order."""
    match = re.search(r'<ul class="list-group.*?</ul>', html, re.S)
    return re.findall(r"<li class=\"list-group-item.*?</li>", match.group(0), re.S) if match else []


def _nav_badge(html: str) -> str | None:
    """The unread count shown by the navigation's Notifications link, or None without one."""
    link = re.search(r'href="/notifications">Notifications(.*?)</a>', html, re.S)
    assert link, "no Notifications link in the navigation"
    badge = re.search(
        r'<span class="badge[^"]*">(\d+\+?)<span class="visually-hidden"> unread</span>', link.group(1)
    )
    return badge.group(1) if badge else None


class TestList:
    def test_newest_first_with_title_text_time_and_link(self, client, login_as, make_user, make_notification):
        user = login_as(make_user())
        make_notification(user, title="Older one")
        make_notification(user, title="Newer <one>", text="Cohort starts on Monday.", link="/courses/4")
        response = client.get("/notifications")
        assert response.status_code == 200
        html = _text(response)
        newer, older = _items(html)
        assert "Newer &lt;one&gt;" in newer and "Cohort starts on Monday." in newer
        assert '<a href="/courses/4" data-mark-read="/notifications/' in newer
        assert "Older one" in older and "<a href" not in older  # no page: no link
        assert re.search(r'<time datetime="[^"]+">\d+ \w+ \d{4}, \d\d:\d\d UTC</time>', newer)
        assert "<title>Notifications \u2013 lms</title>" in html

    def test_unread_ones_say_so_in_words_and_have_a_button(
        self, client, login_as, make_user, make_notification
    ):
        user = login_as(make_user())
        read = make_notification(user, title="Read one", link="/courses/1")
        make_notification(user, title="Unread one")
        services.mark_read(user, read.id)
        unread_item, read_item = _items(_text(client.get("/notifications")))
        assert '<span class="badge text-bg-primary me-1">Unread</span>' in unread_item
        assert 'Mark as read<span class="visually-hidden">: Unread one</span>' in unread_item
        assert "Unread</span>" not in read_item and "Mark as read" not in read_item
        assert "data-mark-read" not in read_item and "· read " in read_item

    def test_the_unread_filter(self, client, login_as, make_user, make_notification):
        user = login_as(make_user())
        read = make_notification(user, title="Read one")
        make_notification(user, title="Unread one")
        services.mark_read(user, read.id)
        html = _text(client.get("/notifications?show=unread"))
        assert [("Unread one" in item) for item in _items(html)] == [True]
        assert 'aria-current="page"\n           href="/notifications?show=unread">Unread (1)</a>' in html
        assert "<title>Unread notifications \u2013 lms</title>" in html

    @pytest.mark.parametrize("query", ["show=read", "show=UNREAD", "show=1", "page=abc"])
    def test_a_bad_filter_or_page_is_400(self, client, login_as, make_user, query):
        login_as(make_user())
        assert client.get(f"/notifications?{query}").status_code == 400

    def test_empty_states(self, client, login_as, make_user, make_notification):
        user = login_as(make_user())
        html = _text(client.get("/notifications"))
        assert "You have no notifications yet." in html and "Mark all as read" not in html
        services.mark_read(user, make_notification(user).id)
        html = _text(client.get("/notifications?show=unread"))
        assert "You have no unread notifications." in html

    def test_pages_of_twenty_with_a_pager(self, client, login_as, make_user, make_notification):
        user = login_as(make_user())
        for n in range(25):
            make_notification(user, title=f"Number {n}.")
        first = _text(client.get("/notifications"))
        assert len(_items(first)) == 20 and "Page 1 of 2" in first and "Number 24." in first
        second = _text(client.get("/notifications?page=2"))
        assert len(_items(second)) == 5 and "Number 0." in second and "Number 24." not in second

    def test_a_page_past_the_end_goes_to_the_last(self, client, login_as, make_user, make_notification):
        user = login_as(make_user())
        make_notification(user)
        response = client.get("/notifications?page=5&show=unread")
        assert response.status_code == 302 and response.location == "/notifications?show=unread"

    def test_links_to_the_preferences(self, client, login_as, make_user):
        login_as(make_user())
        assert 'href="/notifications/preferences"' in _text(client.get("/notifications"))


class TestMarkingRead:
    def test_mark_one_read_and_go_back_to_the_same_page(self, client, login_as, make_user, make_notification):
        user = login_as(make_user())
        notification = make_notification(user, title="Reminder")
        response = client.post(f"/notifications/{notification.id}/read?page=2&show=unread")
        assert response.status_code == 302
        assert response.location == "/notifications?page=2&show=unread"
        assert "“Reminder” is marked as read." in _text(client.get(response.location, follow_redirects=True))
        assert services.unread_count(user) == 0

    def test_bad_return_arguments_are_dropped(self, client, login_as, make_user, make_notification):
        user = login_as(make_user())
        notification = make_notification(user)
        response = client.post(f"/notifications/{notification.id}/read?page=x&show=nonsense")
        assert response.status_code == 302 and response.location == "/notifications"

    def test_the_script_gets_an_empty_answer_and_no_message(
        self, client, login_as, make_user, make_notification
    ):
        user = login_as(make_user())
        notification = make_notification(user, title="Reminder")
        response = client.post(
            f"/notifications/{notification.id}/read", headers={"X-Requested-With": "fetch"}
        )
        assert response.status_code == 204 and response.data == b""
        assert services.unread_count(user) == 0
        assert "is marked as read" not in _text(client.get("/dashboard"))

    def test_someone_elses_notification_is_404_and_stays_unread(
        self, client, login_as, make_user, make_notification
    ):
        owner = make_user()
        notification = make_notification(owner)
        login_as(make_user())
        assert client.post(f"/notifications/{notification.id}/read").status_code == 404
        assert client.post(f"/notifications/{notification.id + 1000}/read").status_code == 404
        assert services.unread_count(owner) == 1

    def test_mark_all_read(self, client, login_as, make_user, make_notification):
        user, other = login_as(make_user()), make_user()
        for _ in range(3):
            make_notification(user)
        make_notification(other)
        html = _text(client.get("/notifications"))
        assert 'action="/notifications/read-all"' in html
        response = client.post("/notifications/read-all?show=unread")
        assert response.status_code == 302 and response.location == "/notifications?show=unread"
        html = _text(client.get(response.location))
        assert "3 notifications marked as read." in html and "Mark all as read" not in html
        assert services.unread_count(user) == 0 and services.unread_count(other) == 1
        client.post("/notifications/read-all")
        assert "You had no unread notifications." in _text(client.get("/notifications"))


class TestPreferences:
    def test_optional_kinds_are_checkboxes_and_essential_ones_are_text(
        self, client, login_as, make_user, test_kinds
    ):
        login_as(make_user())
        html = _text(client.get("/notifications/preferences"))
        reminder = re.search(r'<input[^>]*value="test_reminder"[^>]*>', html).group(0)
        digest = re.search(r'<input[^>]*value="test_digest"[^>]*>', html).group(0)
        assert "checked" in reminder and "checked" not in digest  # the kinds' defaults
        assert 'type="checkbox"' in reminder and "aria-describedby" in reminder
        assert REMINDER.label in html and REMINDER.description in html
        assert 'value="test_decision"' not in html  # essential: no checkbox, disabled or not
        assert f"<dt>{DECISION.label}</dt>" in html and "Always emailed." in html

    def test_saving_flashes_audits_and_is_used(self, client, login_as, make_user, test_kinds, db):
        user = login_as(make_user())
        response = client.post(
            "/notifications/preferences", data={"emailed": [DIGEST.name], "submit": "Save"}
        )
        assert response.status_code == 302 and response.location == "/notifications/preferences"
        html = _text(client.get(response.location))
        assert "Your email preferences have been saved." in html
        assert "checked" in re.search(r'<input[^>]*value="test_digest"[^>]*>', html).group(0)
        assert "checked" not in re.search(r'<input[^>]*value="test_reminder"[^>]*>', html).group(0)
        assert services.email_choices(user)[REMINDER.name] is False
        entry = db.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "notification_preferences.changed")
        )
        assert entry.actor_id == user.id and entry.subject_id == user.id
        assert entry.after["emailed"][DIGEST.name] is True

    def test_saving_nothing_ticked_turns_every_optional_email_off(
        self, client, login_as, make_user, test_kinds
    ):
        user = login_as(make_user())
        client.post("/notifications/preferences", data={})
        assert not any(services.email_choices(user).values())

    def test_saving_the_same_choices_says_so(self, client, login_as, make_user, test_kinds):
        login_as(make_user())
        client.post("/notifications/preferences", data={"emailed": [REMINDER.name]})
        client.post("/notifications/preferences", data={"emailed": [REMINDER.name]})
        assert "Your email preferences are unchanged." in _text(client.get("/notifications/preferences"))

    def test_an_unknown_or_essential_kind_is_refused(self, client, login_as, make_user, test_kinds, db):
        user = login_as(make_user())
        for name in ("nonsense", DECISION.name):
            response = client.post("/notifications/preferences", data={"emailed": [name]})
            assert response.status_code == 422 and "There is a problem" in _text(response)
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(
                    AuditEntry.subject_id == user.id, AuditEntry.action == "notification_preferences.changed"
                )
            )
            == 0
        )


class TestNavigation:
    def test_the_unread_count_is_in_the_navigation(self, client, login_as, make_user, make_notification):
        user = login_as(make_user())
        assert _nav_badge(_text(client.get("/dashboard"))) is None
        for _ in range(3):
            make_notification(user)
        html = _text(client.get("/dashboard"))
        assert _nav_badge(html) == "3"
        # Folded behind the Menu button on a phone, the count shows on the button too.
        assert re.search(
            r'Menu</span> <span class="badge[^"]*">3<span class="visually-hidden"> unread notifications', html
        )
        services.mark_all_read(user)
        assert _nav_badge(_text(client.get("/dashboard"))) is None

    def test_a_large_count_is_shortened(self, client, login_as, make_user, make_notification):
        user = login_as(make_user())
        for _ in range(100):
            make_notification(user)
        assert _nav_badge(_text(client.get("/dashboard"))) == "99+"

    def test_a_database_outage_leaves_the_count_out(self, client, login_as, make_user, monkeypatch):
        from sqlalchemy.exc import OperationalError

        login_as(make_user())

        def unreachable(_user):
            raise OperationalError("SELECT count(*)", {}, Exception("server closed the connection"))

        monkeypatch.setattr(services, "unread_count", unreachable)
        response = client.get("/dashboard")
        assert response.status_code == 200 and _nav_badge(_text(response)) is None

    def test_signed_out_there_is_no_link(self, client):
        assert 'href="/notifications"' not in _text(client.get("/"))


class TestQueries:
    @staticmethod
    def _about_notifications(counter) -> list[str]:
        return [s for s in counter.statements if "notifications" in s]

    def test_the_list_page_costs_the_same_for_many_notifications(
        self, client, login_as, make_user, make_notification, count_queries
    ):
        user = login_as(make_user())
        make_notification(user, link="/courses/1")
        with count_queries() as few:
            assert client.get("/notifications").status_code == 200
        for _ in range(30):
            make_notification(user, link="/courses/1")
        with count_queries() as many:
            assert client.get("/notifications").status_code == 200
        assert many.count == few.count
        # The signed-in person and their roles; the page's count and rows; the navigation's
        # unread count (which the Unread filter shows too).
        assert len(self._about_notifications(many)) == 3
        assert many.count == 5, many.statements

    def test_the_navigation_count_is_one_query_and_only_where_shown(
        self, client, login_as, make_user, make_notification, count_queries
    ):
        user = login_as(make_user())
        notification = make_notification(user)
        with count_queries() as dashboard:
            assert client.get("/dashboard").status_code == 200
        assert len(self._about_notifications(dashboard)) == 1
        with count_queries() as script:
            client.post(f"/notifications/{notification.id}/read", headers={"X-Requested-With": "fetch"})
        assert not any("count(" in s.lower() for s in self._about_notifications(script))

    def test_a_signed_out_page_does_not_count(self, client, count_queries, db):
        with count_queries() as counter:
            assert client.get("/account/login").status_code == 200
        assert self._about_notifications(counter) == []


def test_anyone_signed_in_may_use_the_pages(client, login_as, make_user, test_kinds):
    from lms.permissions import Role

    for role in Role:
        login_as(make_user(role))
        assert client.get("/notifications").status_code == 200
        assert client.get("/notifications/preferences").status_code == 200
        client.post("/account/logout")
