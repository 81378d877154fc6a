"""The notifications API: the caller's own list, the unread count and marking read."""

from __future__ import annotations

import pytest

from lms.notifications import services


class TestList:
    def test_the_callers_own_newest_first(self, api, make_user, make_notification):
        user, other = make_user(), make_user()
        older = make_notification(user, title="Older")
        newer = make_notification(user, title="Newer", text="Some detail.", link="/courses/4")
        make_notification(other)
        response = api(user).get("/api/v1/notifications")
        assert response.status_code == 200
        body = response.get_json()
        assert set(body) == {"items", "page", "per_page", "total", "pages"}
        assert body["total"] == 2 and [n["id"] for n in body["items"]] == [newer.id, older.id]
        first, second = body["items"]
        assert set(first) == {"id", "kind", "title", "text", "link", "created_at", "read_at", "is_read"}
        assert (first["title"], first["text"], first["link"], first["kind"]) == (
            "Newer",
            "Some detail.",
            "/courses/4",
            "test_reminder",
        )
        assert first["read_at"] is None and first["is_read"] is False
        assert second["link"] is None and second["text"] == ""  # no page: null, not ""

    def test_unread_only_and_pages(self, api, make_user, make_notification):
        user = make_user()
        made = [make_notification(user) for _ in range(5)]
        services.mark_read(user, made[-1].id)
        caller = api(user)
        body = caller.get("/api/v1/notifications?unread=true&per_page=2&page=2").get_json()
        assert (body["total"], body["pages"]) == (4, 2)
        assert [n["id"] for n in body["items"]] == [made[1].id, made[0].id]
        everything = caller.get("/api/v1/notifications?unread=false").get_json()
        assert everything["total"] == 5 and everything["items"][0]["is_read"] is True
        assert everything["items"][0]["read_at"] is not None

    @pytest.mark.parametrize("query", ["unread=1", "unread=yes", "per_page=101", "page=0"])
    def test_bad_query_is_422(self, api, make_user, query):
        response = api(make_user()).get(f"/api/v1/notifications?{query}")
        assert response.status_code == 422
        assert response.get_json()["error"]["code"] == "invalid_input"

    def test_the_list_costs_the_same_for_many(self, api, make_user, make_notification, count_queries):
        user = make_user()
        caller = api(user)
        make_notification(user)
        caller.get("/api/v1/me")  # the token's first use records when it was used
        with count_queries() as few:
            assert caller.get("/api/v1/notifications").status_code == 200
        for _ in range(30):
            make_notification(user)
        with count_queries() as many:
            assert caller.get("/api/v1/notifications").status_code == 200
        assert many.count == few.count
        assert len([s for s in many.statements if "notifications" in s]) == 2  # count and page


class TestUnreadCount:
    def test_counts_the_callers_unread_ones_in_one_query(
        self, api, make_user, make_notification, count_queries
    ):
        user, other = make_user(), make_user()
        caller = api(user)
        assert caller.get("/api/v1/notifications/unread-count").get_json() == {"unread": 0}
        for _ in range(3):
            make_notification(user)
        make_notification(other)
        services.mark_read(user, make_notification(user).id)
        with count_queries() as counter:
            assert caller.get("/api/v1/notifications/unread-count").get_json() == {"unread": 3}
        assert len([s for s in counter.statements if "notifications" in s]) == 1


class TestMarkingRead:
    def test_mark_one_read(self, api, make_user, make_notification):
        user = make_user()
        notification = make_notification(user, title="Soon")
        caller = api(user)
        response = caller.post(f"/api/v1/notifications/{notification.id}/read")
        assert response.status_code == 200
        body = response.get_json()
        assert body["id"] == notification.id and body["is_read"] is True and body["read_at"]
        again = caller.post(f"/api/v1/notifications/{notification.id}/read").get_json()
        assert again["read_at"] == body["read_at"]
        assert caller.get("/api/v1/notifications/unread-count").get_json() == {"unread": 0}

    def test_someone_elses_is_404_and_stays_unread(self, api, make_user, make_notification):
        owner = make_user()
        notification = make_notification(owner)
        caller = api(make_user())
        for notification_id in (notification.id, notification.id + 1000):
            response = caller.post(f"/api/v1/notifications/{notification_id}/read")
            assert response.status_code == 404
            assert response.get_json()["error"]["code"] == "not_found"
        assert services.unread_count(owner) == 1

    def test_mark_all_read(self, api, make_user, make_notification):
        user, other = make_user(), make_user()
        for _ in range(3):
            make_notification(user)
        make_notification(other)
        caller = api(user)
        assert caller.post("/api/v1/notifications/read-all").get_json() == {"marked": 3}
        assert caller.post("/api/v1/notifications/read-all").get_json() == {"marked": 0}
        assert services.unread_count(other) == 1

    def test_signed_out_is_401(self, client):
        assert client.post("/api/v1/notifications/read-all").status_code == 401
        assert client.get("/api/v1/notifications").status_code == 401


def test_the_document_describes_the_operations(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    assert {"get"} <= set(paths["/api/v1/notifications"])
    assert "post" in paths["/api/v1/notifications/{notification_id}/read"]
    assert "post" in paths["/api/v1/notifications/read-all"]
    assert "get" in paths["/api/v1/notifications/unread-count"]
    notification = spec["components"]["schemas"]["Notification"]["properties"]
    assert notification["link"]["nullable"] is True and notification["read_at"]["nullable"] is True
    parameters = {p["name"]: p for p in paths["/api/v1/notifications"]["get"]["parameters"]}
    assert parameters["unread"]["schema"]["type"] == "boolean"
