"""The API base at /api/v1: one error body for every error, the OpenAPI document, CSRF, cookies."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from openapi_spec_validator import validate
from sqlalchemy.exc import IntegrityError

from lms.accounts import services as account_services
from lms.database import utcnow
from lms.extensions import db as _db
from lms.permissions import Role

EXCLUDED_FROM_SPEC = {"/api/v1/openapi.json", "/api/v1/docs"}
DOCUMENTED_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


def assert_error(
    response, status: int, code: str | None = None, field: str | None = None, where: str = ""
) -> dict:
    """The response is an error with the one body shape; return the ``error`` object."""
    assert response.status_code == status, f"{where} {response.get_data(as_text=True)[:2000]}"
    assert response.is_json, response.headers.get("Content-Type")
    body = response.get_json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "fields"}, error
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["fields"], dict)
    for name, problems in error["fields"].items():
        assert isinstance(name, str)
        assert isinstance(problems, list) and problems, (name, problems)
        assert all(isinstance(p, str) for p in problems), (name, problems)
    if code is not None:
        assert error["code"] == code, f"{where} {error}"
    if field is not None:
        assert field in error["fields"], f"{where} {error}"
    return error


def openapi_path(rule: str) -> str:
    """``/api/v1/users/<int:user_id>`` -> ``/api/v1/users/{user_id}``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


@pytest.fixture
def spec(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def resolve(spec: dict, node: dict) -> dict:
    """Follow ``$ref`` pointers inside the document."""
    while isinstance(node, dict) and "$ref" in node:
        _, *parts = node["$ref"].split("/")
        node = spec
        for part in parts:
            node = node[part]
    return node


class TestErrorBody:
    """Every error under /api/ has the body {"error": {"code", "message", "fields"}}."""

    def test_validation_error_names_fields(self, api, make_user):
        response = api(make_user(Role.ADMIN)).post("/api/v1/users", json={"email": "not an email"})
        error = assert_error(response, 422, "invalid_input")
        assert set(error["fields"]) == {"email", "name"}

    def test_nested_validation_error_has_dotted_name(self, api, make_user):
        response = api(make_user(Role.ADMIN)).post(
            "/api/v1/users", json={"email": "n@example.org", "name": "N", "roles": ["trainee", "wizard"]}
        )
        error = assert_error(response, 422, "invalid_input", field="roles.1")
        assert "json" not in error["fields"]

    def test_unknown_field_is_named(self, api, make_user):
        response = api(make_user(Role.ADMIN)).post(
            "/api/v1/tokens", json={"name": "ci", "scopes": ["everything"]}
        )
        assert_error(response, 422, "invalid_input", field="scopes")

    def test_query_validation_error_names_field(self, api, make_user):
        response = api(make_user(Role.ADMIN)).get("/api/v1/users?page=nope")
        error = assert_error(response, 422, "invalid_input", field="page")
        assert "query" not in error["fields"]

    def test_malformed_json(self, api, make_user):
        response = api(make_user()).post("/api/v1/tokens", data='{"name": ', content_type="application/json")
        error = assert_error(response, 400, "bad_request", field="_schema")
        assert "JSON" in error["message"]

    def test_json_array_instead_of_object(self, api, make_user):
        response = api(make_user()).post("/api/v1/tokens", json=[{"name": "ci"}])
        assert_error(response, 422, "invalid_input", field="_schema")

    @pytest.mark.parametrize(
        "content_type, data",
        [
            ("application/x-www-form-urlencoded", "name=ci"),
            ("multipart/form-data; boundary=x", "--x--"),
            ("text/plain", '{"name": "ci"}'),
            (None, '{"name": "ci"}'),
        ],
    )
    def test_wrong_content_type(self, api, make_user, content_type, data):
        kwargs = {"data": data}
        if content_type:
            kwargs["content_type"] = content_type
        response = api(make_user()).post("/api/v1/tokens", **kwargs)
        assert_error(response, 415, "unsupported_media_type")

    def test_json_content_type_with_charset_is_accepted(self, api, make_user):
        response = api(make_user()).post(
            "/api/v1/tokens", data='{"name": "ci"}', content_type="application/json; charset=utf-8"
        )
        assert response.status_code == 201, response.get_json()

    def test_no_token(self, client):
        response = client.get("/api/v1/me")
        assert_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")

    @pytest.mark.parametrize(
        "authorization",
        ["Bearer lms_not-a-real-token", "Bearer ", "Basic dXNlcjpwYXNz", "lms_only-the-token", "Bearer a b"],
    )
    def test_bad_token(self, client, authorization):
        response = client.get("/api/v1/me", headers={"Authorization": authorization})
        assert_error(response, 401, "unauthorized")

    def test_revoked_token(self, client, make_user, make_token):
        token, plain = make_token(make_user())
        token.revoked_at = utcnow()
        _db.session.flush()
        assert_error(
            client.get("/api/v1/me", headers={"Authorization": f"Bearer {plain}"}), 401, "unauthorized"
        )

    def test_expired_token(self, client, make_user, make_token):
        token, plain = make_token(make_user())
        token.expires_at = utcnow() - dt.timedelta(seconds=1)
        _db.session.flush()
        assert_error(
            client.get("/api/v1/me", headers={"Authorization": f"Bearer {plain}"}), 401, "unauthorized"
        )

    def test_role_refused(self, api, make_user):
        assert_error(api(make_user(Role.TRAINEE)).get("/api/v1/users"), 403, "forbidden")

    @pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/api/v1/users/", "/api/v2/users", "/api/x"])
    def test_unknown_route(self, api, make_user, path):
        assert_error(api(make_user(Role.ADMIN)).get(path), 404, "not_found")

    def test_unknown_route_without_token_is_json_too(self, client):
        assert_error(client.get("/api/v1/nothing-here"), 404, "not_found")

    def test_unknown_object(self, api, make_user):
        assert_error(api(make_user(Role.ADMIN)).get("/api/v1/users/999999"), 404, "not_found")

    def test_wrong_method_lists_allowed_methods(self, api, make_user):
        response = api(make_user(Role.ADMIN)).delete("/api/v1/users")
        assert_error(response, 405, "method_not_allowed")
        assert {"GET", "POST"} <= {m.strip() for m in response.headers["Allow"].split(",")}

    def test_conflict(self, api, make_user, make_token):
        user = make_user()
        token, _plain = make_token(user)
        caller = api(user)
        assert caller.delete(f"/api/v1/tokens/{token.id}").status_code == 204
        assert_error(caller.delete(f"/api/v1/tokens/{token.id}"), 409, "conflict")

    def test_database_integrity_error_is_a_conflict(self, api, make_user, monkeypatch):
        def clash(_user_id):
            raise IntegrityError("INSERT ...", {}, Exception("duplicate key"))

        monkeypatch.setattr(account_services, "get_user", clash)
        assert_error(api(make_user(Role.ADMIN)).get("/api/v1/users/1"), 409, "conflict")

    def test_unexpected_error(self, api, make_user, monkeypatch):
        def boom(_user_id):
            raise RuntimeError("secret internals")

        monkeypatch.setattr(account_services, "get_user", boom)
        error = assert_error(api(make_user(Role.ADMIN)).get("/api/v1/users/1"), 500, "server_error")
        assert "secret internals" not in error["message"]

    def test_pages_still_get_pages(self, client):
        response = client.get("/no-such-page")
        assert response.status_code == 404
        assert response.mimetype == "text/html"


class TestCookiesAndCsrf:
    def test_signed_in_browser_session_is_ignored_by_the_api(self, client, login_as, make_user):
        login_as(make_user(Role.ADMIN))
        assert client.get("/dashboard").status_code == 200
        assert_error(client.get("/api/v1/me"), 401, "unauthorized")
        assert_error(client.post("/api/v1/tokens", json={"name": "from a browser"}), 401, "unauthorized")

    def test_api_answers_set_no_cookie(self, api, make_user):
        response = api(make_user()).get("/api/v1/me")
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers

    def test_api_needs_no_csrf_token_but_pages_do(self, app, api, client, make_user, monkeypatch):
        monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
        user = make_user()
        assert api(user).post("/api/v1/tokens", json={"name": "ci"}).status_code == 201
        assert client.post("/account/login", data={"email": user.email, "password": "x"}).status_code == 400


class TestOpenApi:
    def test_document_is_valid_openapi_3(self, spec):
        assert spec["openapi"].startswith("3.")
        validate(spec)

    def test_every_api_route_is_documented(self, app, spec):
        missing = []
        for rule in app.url_map.iter_rules():
            if not rule.rule.startswith("/api/v1/") or rule.rule in EXCLUDED_FROM_SPEC:
                continue
            path = openapi_path(rule.rule)
            for method in sorted(rule.methods & DOCUMENTED_METHODS):
                if method.lower() not in spec["paths"].get(path, {}):
                    missing.append(f"{method} {path} ({rule.endpoint})")
        assert not missing, "API routes missing from openapi.json: " + ", ".join(missing)

    def test_documented_paths_exist(self, app, spec):
        routes = {openapi_path(r.rule) for r in app.url_map.iter_rules()}
        assert set(spec["paths"]) <= routes

    def test_bearer_auth_is_the_security_scheme(self, spec):
        assert spec["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}
        assert spec["security"] == [{"bearerAuth": []}]

    def test_error_schema_is_a_response_component(self, spec):
        error = spec["components"]["responses"]["Error"]
        schema = resolve(spec, error["content"]["application/json"]["schema"])
        body = resolve(spec, schema["properties"]["error"])
        assert set(body["properties"]) == {"code", "message", "fields"}
        assert body["properties"]["fields"]["additionalProperties"]["type"] == "array"

    def test_every_operation_documents_its_errors_with_the_error_schema(self, spec):
        error_schema = {"$ref": "#/components/schemas/Error"}
        for path, item in spec["paths"].items():
            for method, operation in _operations(item):
                where = f"{method.upper()} {path}"
                responses = operation["responses"]
                assert responses["default"] == {"$ref": "#/components/responses/Error"}, where
                if operation.get("security") != []:
                    assert "401" in responses, where
                if "{" in path:
                    assert "404" in responses, where
                if "requestBody" in operation:
                    assert {"400", "415", "422"} <= set(responses), where
                for status, response in responses.items():
                    if status.startswith(("4", "5")) or status == "default":
                        content = resolve(spec, response)["content"]["application/json"]
                        assert content["schema"] == error_schema, (where, status)

    def test_role_restricted_operations_document_403(self, spec):
        assert "403" in spec["paths"]["/api/v1/users"]["get"]["responses"]
        assert "403" not in spec["paths"]["/api/v1/me"]["get"]["responses"]

    def test_lists_are_paginated_and_document_their_parameters(self, spec):
        lists = []
        for path, item in spec["paths"].items():
            for method, operation in _operations(item):
                ok = operation["responses"].get("200") or operation["responses"].get("201") or {}
                schema = resolve(spec, ok.get("content", {}).get("application/json", {}).get("schema", {}))
                assert schema.get("type") != "array", (
                    f"{method.upper()} {path} answers a bare list; paginate it"
                )
                if {"items", "page", "per_page", "total", "pages"} <= set(schema.get("properties", {})):
                    lists.append((path, method))
                    names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
                    assert {"page", "per_page"} <= names, f"{method.upper()} {path}"
                    per_page = next(p for p in operation["parameters"] if p["name"] == "per_page")
                    assert per_page["schema"]["maximum"] == 100
        assert ("/api/v1/users", "get") in lists
        assert ("/api/v1/tokens", "get") in lists

    def test_docs_page_lists_every_operation(self, client, spec):
        response = client.get("/api/v1/docs")
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        for path, item in spec["paths"].items():
            for method, _operation in _operations(item):
                assert f"{method.upper()} {path}" in page


class TestPagination:
    def test_envelope_and_pages(self, api, make_user, make_token):
        user = make_user()
        for n in range(5):
            make_token(user, f"listed {n}")
        caller = api(user)  # a sixth token
        first = caller.get("/api/v1/tokens?per_page=4").get_json()
        assert set(first) == {"items", "page", "per_page", "total", "pages"}
        assert (first["page"], first["per_page"], first["total"], first["pages"]) == (1, 4, 6, 2)
        second = caller.get("/api/v1/tokens?per_page=4&page=2").get_json()
        assert len(first["items"]) == 4 and len(second["items"]) == 2
        assert not {t["id"] for t in first["items"]} & {t["id"] for t in second["items"]}
        beyond = caller.get("/api/v1/tokens?per_page=4&page=3").get_json()
        assert beyond["items"] == [] and beyond["total"] == 6

    def test_defaults(self, api, make_user):
        body = api(make_user()).get("/api/v1/tokens").get_json()
        assert (body["page"], body["per_page"], body["pages"]) == (1, 25, 1)

    @pytest.mark.parametrize(
        "query, field",
        [
            ("page=0", "page"),
            ("page=-1", "page"),
            ("page=1.5", "page"),
            ("page=abc", "page"),
            ("page=", "page"),
            ("page=99999999999999999999", "page"),
            ("per_page=0", "per_page"),
            ("per_page=101", "per_page"),
            ("per_page=ten", "per_page"),
        ],
    )
    def test_invalid_page_values(self, api, make_user, query, field):
        assert_error(api(make_user()).get(f"/api/v1/tokens?{query}"), 422, "invalid_input", field=field)


def _operations(item: dict):
    return [(m, op) for m, op in item.items() if m in {"get", "post", "put", "patch", "delete"}]
