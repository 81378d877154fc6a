"""The accounts API: the caller, their tokens, and people (for admins)."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy import func, select

from lms.accounts.models import ApiToken, User
from lms.audit import AuditEntry
from lms.database import utcnow
from lms.extensions import db as _db
from lms.permissions import Role
from tests.api.test_base import assert_error
from tests.conftest import PASSWORD


def bearer(plain: str) -> dict:
    return {"Authorization": f"Bearer {plain}"}


def audit_entries(action: str, subject_id: int | None = None) -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.action == action)
    if subject_id is not None:
        query = query.where(AuditEntry.subject_id == subject_id)
    return list(_db.session.scalars(query))


class TestMe:
    def test_own_account(self, api, make_user):
        user = make_user(Role.TRAINEE, Role.ASSESSOR, name="Ada Assessor")
        body = api(user).get("/api/v1/me").get_json()
        assert body == {
            "id": user.id,
            "email": user.email,
            "name": "Ada Assessor",
            "roles": ["assessor", "trainee"],
            "organisation_id": None,
        }


class TestTokens:
    def test_created_token_is_shown_once_and_stored_hashed(self, api, client, make_user):
        user = make_user()
        response = api(user).post("/api/v1/tokens", json={"name": "laptop"})
        assert response.status_code == 201, response.get_json()
        created = response.get_json()
        plain = created["token"]
        assert plain.startswith("lms_") and len(plain) > 40
        assert created["name"] == "laptop" and plain.startswith(created["prefix"])

        stored = _db.session.get(ApiToken, created["id"])
        assert stored.token_hash == hashlib.sha256(plain.encode()).hexdigest()
        row = _db.session.execute(select(ApiToken.__table__).where(ApiToken.id == created["id"])).one()
        assert plain not in [str(value) for value in row]

        listed = client.get("/api/v1/tokens", headers=bearer(plain)).get_json()["items"]
        assert created["id"] in [t["id"] for t in listed]
        assert all("token" not in t and "token_hash" not in t for t in listed)
        assert client.get("/api/v1/me", headers=bearer(plain)).get_json()["id"] == user.id
        assert audit_entries("api_token.created", created["id"])

    def test_token_with_expiry(self, api, make_user):
        when = (utcnow() + dt.timedelta(days=30)).replace(microsecond=0)
        response = api(make_user()).post(
            "/api/v1/tokens", json={"name": "ci", "expires_at": when.isoformat()}
        )
        assert response.status_code == 201
        assert dt.datetime.fromisoformat(response.get_json()["expires_at"]) == when

    @pytest.mark.parametrize(
        "expires_at, message",
        [("2001-01-01T00:00:00+00:00", "future"), ("2999-01-01T00:00:00", "aware"), ("soon", "")],
    )
    def test_expiry_must_be_an_aware_time_in_the_future(self, api, make_user, expires_at, message):
        response = api(make_user()).post("/api/v1/tokens", json={"name": "ci", "expires_at": expires_at})
        error = assert_error(response, 422, "invalid_input", field="expires_at")
        assert message in " ".join(error["fields"]["expires_at"])

    @pytest.mark.parametrize("name", ["", "   "])
    def test_blank_name_refused(self, api, make_user, name):
        assert_error(api(make_user()).post("/api/v1/tokens", json={"name": name}), 422, field="name")

    def test_duplicate_active_name_refused(self, api, make_user, make_token):
        user = make_user()
        make_token(user, "laptop")
        assert_error(api(user).post("/api/v1/tokens", json={"name": "laptop"}), 422, field="name")

    def test_revoked_token_stops_working(self, client, make_user, make_token):
        user = make_user()
        token, plain = make_token(user)
        response = client.delete(f"/api/v1/tokens/{token.id}", headers=bearer(plain))
        assert response.status_code == 204
        assert_error(client.get("/api/v1/me", headers=bearer(plain)), 401, "unauthorized")
        assert _db.session.get(ApiToken, token.id).revoked_at is not None
        assert audit_entries("api_token.revoked", token.id)

    def test_revoking_one_token_leaves_the_others(self, api, make_user, make_token):
        user = make_user()
        token, _plain = make_token(user)
        caller = api(user)
        assert caller.delete(f"/api/v1/tokens/{token.id}").status_code == 204
        assert caller.get("/api/v1/me").status_code == 200

    def test_cannot_revoke_someone_elses_token(self, api, client, make_user, make_token):
        owner, other = make_user(), make_user()
        token, plain = make_token(owner)
        assert_error(api(other).delete(f"/api/v1/tokens/{token.id}"), 404, "not_found")
        assert client.get("/api/v1/me", headers=bearer(plain)).status_code == 200
        assert _db.session.get(ApiToken, token.id).revoked_at is None

    def test_list_shows_only_own_tokens_newest_first(self, api, make_user, make_token):
        user, other = make_user(), make_user()
        mine = [make_token(user, f"mine {n}")[0].id for n in range(3)]
        make_token(other, "not mine")
        items = api(user).get("/api/v1/tokens").get_json()["items"]
        ids = [t["id"] for t in items]
        assert set(mine) < set(ids) and len(ids) == 4  # three here, one made by api()
        assert ids == sorted(ids, reverse=True)

    @pytest.mark.parametrize(
        "roles, status", [((Role.TRAINEE,), 403), ((Role.ASSESSOR, Role.LIAISON), 403), ((Role.ADMIN,), 200)]
    )
    def test_token_acts_with_its_owners_roles(self, api, make_user, roles, status):
        response = api(make_user(*roles)).get("/api/v1/users")
        assert response.status_code == status
        if status == 403:
            assert_error(response, 403, "forbidden")

    def test_role_change_applies_to_existing_tokens(self, api, client, make_user, make_token):
        admin, person = make_user(Role.ADMIN), make_user(Role.TRAINEE)
        _token, plain = make_token(person)
        assert client.get("/api/v1/users", headers=bearer(plain)).status_code == 403
        assert api(admin).patch(f"/api/v1/users/{person.id}", json={"roles": ["admin"]}).status_code == 200
        assert client.get("/api/v1/users", headers=bearer(plain)).status_code == 200

    def test_expired_token_refused(self, client, make_user, make_token):
        token, plain = make_token(make_user())
        token.expires_at = utcnow() - dt.timedelta(minutes=1)
        _db.session.flush()
        assert_error(client.get("/api/v1/me", headers=bearer(plain)), 401, "unauthorized")

    def test_token_of_deactivated_owner_refused(self, client, make_user, make_token):
        user = make_user()
        _token, plain = make_token(user)
        user.is_active_account = False
        _db.session.flush()
        assert_error(client.get("/api/v1/me", headers=bearer(plain)), 401, "unauthorized")

    def test_last_used_is_recorded(self, client, make_user, make_token):
        token, plain = make_token(make_user())
        assert token.last_used_at is None
        assert client.get("/api/v1/me", headers=bearer(plain)).status_code == 200
        assert _db.session.get(ApiToken, token.id).last_used_at is not None


class TestUsers:
    def test_admin_creates_user_with_invitation(self, api, make_user, outbox):
        admin = make_user(Role.ADMIN)
        response = api(admin).post(
            "/api/v1/users",
            json={"email": "New.Person@Example.org", "name": "New Person", "roles": ["assessor"]},
        )
        assert response.status_code == 201, response.get_json()
        body = response.get_json()
        assert body["email"] == "new.person@example.org"
        assert body["roles"] == ["assessor"] and body["is_active"] is True
        user = _db.session.get(User, body["id"])
        assert user.password_hash is None
        [mail] = [m for m in outbox if m["to"] == "new.person@example.org"]
        assert "invited" in mail["subject"].lower()
        assert "http://lms.test/" in mail["body"]
        [entry] = audit_entries("user.created", user.id)
        assert entry.actor_id == admin.id

    def test_create_without_invitation_sends_nothing(self, api, make_user, outbox):
        response = api(make_user(Role.ADMIN)).post(
            "/api/v1/users", json={"email": "quiet@example.org", "name": "Quiet", "invite": False}
        )
        assert response.status_code == 201
        assert response.get_json()["roles"] == ["trainee"]
        assert not [m for m in outbox if m["to"] == "quiet@example.org"]

    def test_duplicate_email_is_case_insensitive(self, api, make_user):
        make_user(email="taken@example.org")
        response = api(make_user(Role.ADMIN)).post(
            "/api/v1/users", json={"email": "TAKEN@Example.org", "name": "X"}
        )
        assert_error(response, 422, "invalid_input", field="email")
        assert (
            _db.session.scalar(
                select(func.count()).select_from(User).where(User.email == "taken@example.org")
            )
            == 1
        )

    def test_unknown_organisation_refused(self, api, make_user):
        response = api(make_user(Role.ADMIN)).post(
            "/api/v1/users", json={"email": "o@example.org", "name": "O", "organisation_id": 999999}
        )
        assert_error(response, 422, "invalid_input", field="organisation_id")

    def test_create_in_organisation(self, api, make_user, make_organisation):
        organisation = make_organisation()
        response = api(make_user(Role.ADMIN)).post(
            "/api/v1/users",
            json={"email": "member@example.org", "name": "Member", "organisation_id": organisation.id},
        )
        assert response.status_code == 201
        assert response.get_json()["organisation_id"] == organisation.id

    def test_get_one(self, api, make_user):
        person = make_user(name="Gail Get")
        body = api(make_user(Role.ADMIN)).get(f"/api/v1/users/{person.id}").get_json()
        assert body["name"] == "Gail Get" and body["id"] == person.id
        assert "password_hash" not in body and "session_token" not in body

    def test_patch_roles_is_audited(self, api, make_user):
        admin, person = make_user(Role.ADMIN), make_user(Role.TRAINEE)
        response = api(admin).patch(f"/api/v1/users/{person.id}", json={"roles": ["assessor", "trainee"]})
        assert response.status_code == 200
        assert response.get_json()["roles"] == ["assessor", "trainee"]
        [entry] = audit_entries("user.roles_changed", person.id)
        assert entry.actor_id == admin.id
        assert entry.before == {"roles": ["trainee"]}
        assert entry.after == {"roles": ["assessor", "trainee"]}

    def test_patch_name_and_organisation(self, api, make_user, make_organisation):
        admin, person = make_user(Role.ADMIN), make_user()
        organisation = make_organisation()
        response = api(admin).patch(
            f"/api/v1/users/{person.id}", json={"name": " Renamed ", "organisation_id": organisation.id}
        )
        assert response.status_code == 200
        assert response.get_json()["name"] == "Renamed"
        assert response.get_json()["organisation_id"] == organisation.id
        assert audit_entries("user.updated", person.id)

    def test_patch_blank_name_refused(self, api, make_user):
        person = make_user(name="Kept")
        response = api(make_user(Role.ADMIN)).patch(f"/api/v1/users/{person.id}", json={"name": "   "})
        assert_error(response, 422, field="name")
        assert _db.session.get(User, person.id).name == "Kept"

    def test_deactivate_ends_sessions_and_tokens(self, app, api, make_user, make_token):
        admin, person = make_user(Role.ADMIN), make_user()
        _token, plain = make_token(person)
        browser = app.test_client()
        browser.post("/account/login", data={"email": person.email, "password": PASSWORD})
        assert browser.get("/dashboard").status_code == 200
        api_client = app.test_client()
        assert api_client.get("/api/v1/me", headers=bearer(plain)).status_code == 200

        response = api(admin).patch(f"/api/v1/users/{person.id}", json={"is_active": False})
        assert response.status_code == 200 and response.get_json()["is_active"] is False

        assert browser.get("/dashboard").status_code == 302
        assert_error(api_client.get("/api/v1/me", headers=bearer(plain)), 401, "unauthorized")
        assert audit_entries("user.deactivated", person.id)

    def test_admin_cannot_deactivate_themselves(self, api, make_user):
        admin = make_user(Role.ADMIN)
        assert_error(
            api(admin).patch(f"/api/v1/users/{admin.id}", json={"is_active": False}), 403, "forbidden"
        )
        assert _db.session.get(User, admin.id).is_active

    def test_patch_unknown_user(self, api, make_user):
        assert_error(api(make_user(Role.ADMIN)).patch("/api/v1/users/999999", json={"name": "X"}), 404)

    def test_failed_patch_changes_nothing(self, api, make_user):
        admin, person = make_user(Role.ADMIN), make_user(Role.TRAINEE, name="Before")
        response = api(admin).patch(
            f"/api/v1/users/{person.id}",
            json={"name": "After", "roles": ["admin"], "organisation_id": 999999},
        )
        assert_error(response, 422, field="organisation_id")
        person = _db.session.get(User, person.id)
        assert person.name == "Before" and person.role_names == {Role.TRAINEE}

    def test_list_filters_and_paginates(self, api, make_user):
        admin = make_user(Role.ADMIN, name="Zed Admin")
        for n in range(7):
            make_user(name=f"Smith {n}", email=f"smith{n}@example.org")
        make_user(name="Jones", email="jones@example.org")
        caller = api(admin)

        body = caller.get("/api/v1/users?q=SMITH&per_page=5").get_json()
        assert (body["total"], body["pages"], body["page"], body["per_page"]) == (7, 2, 1, 5)
        assert [u["name"] for u in body["items"]] == [f"Smith {n}" for n in range(5)]
        second = caller.get("/api/v1/users?q=smith&per_page=5&page=2").get_json()
        assert [u["name"] for u in second["items"]] == ["Smith 5", "Smith 6"]

        by_email = caller.get("/api/v1/users?q=jones@example").get_json()
        assert [u["email"] for u in by_email["items"]] == ["jones@example.org"]

    def test_list_filter_wildcards_match_literally(self, api, make_user):
        make_user(name="Under_score")
        make_user(name="Underxscore")
        body = api(make_user(Role.ADMIN)).get("/api/v1/users?q=under_").get_json()
        assert [u["name"] for u in body["items"]] == ["Under_score"]
        assert api(make_user(Role.ADMIN)).get("/api/v1/users?q=%25").get_json()["total"] == 0

    def test_filter_too_long(self, api, make_user):
        assert_error(api(make_user(Role.ADMIN)).get("/api/v1/users?q=" + "x" * 101), 422, field="q")

    @pytest.mark.parametrize("method, path", [("get", "/api/v1/users"), ("post", "/api/v1/users")])
    def test_non_admins_refused(self, api, make_user, method, path):
        for role in (Role.TRAINEE, Role.ASSESSOR, Role.LIAISON, Role.ORG_MANAGER):
            kwargs = {"json": {"email": "x@example.org", "name": "X"}} if method == "post" else {}
            assert_error(getattr(api(make_user(role)), method)(path, **kwargs), 403, "forbidden")


class TestQueryCounts:
    def test_user_list_queries_do_not_grow_with_users(self, api, make_user, make_organisation, count_queries):
        admin = make_user(Role.ADMIN)
        caller = api(admin)
        organisation = make_organisation()
        assert caller.get("/api/v1/me").status_code == 200  # first use records last_used_at

        def add_users(n: int) -> None:
            for i in range(n):
                roles = (Role.TRAINEE, Role.ASSESSOR) if i % 2 else (Role.LIAISON,)
                make_user(*roles, organisation_id=organisation.id if i % 3 else None)

        def count() -> int:
            with count_queries() as counter:
                response = caller.get("/api/v1/users?per_page=100")
            assert response.status_code == 200
            return counter.count, response.get_json()["total"]

        add_users(4)
        few, total_few = count()
        add_users(35)
        many, total_many = count()
        assert (total_few, total_many) == (5, 40)
        assert few == many, f"{few} queries for 5 users, {many} for 40"
        assert many <= 6
