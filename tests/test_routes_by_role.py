"""Every registered route, called by anonymous, by each role and by an unrelated user.

The table below is the reviewed statement of who may use what. A route that is not in
the table, or whose declared rule differs from it, fails the suite; so does a route that
lets the wrong person in or shuts the right person out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from lms.permissions import Role, rule_for_endpoint

A = Role.ADMIN
T, S, L, M = Role.TRAINEE, Role.ASSESSOR, Role.LIAISON, Role.ORG_MANAGER
PUBLIC = "public"
ANY = "authenticated"

#: endpoint -> who may call it: PUBLIC, ANY (signed in), or a set of roles.
ACCESS: dict[str, object] = {
    "static": PUBLIC,
    "bootstrap.static": PUBLIC,
    "main.index": PUBLIC,
    "main.healthz": PUBLIC,
    "main.readyz": PUBLIC,
    "main.dashboard": ANY,
    "accounts.login": PUBLIC,
    "accounts.logout": ANY,
    "accounts.change_password": ANY,
    "accounts.request_reset": PUBLIC,
    "accounts.reset_password": PUBLIC,
    "accounts.tokens": ANY,
    "accounts.revoke_token": ANY,
    "admin.users": {A},
    "admin.create_user": {A},
    "admin.user": {A},
    "admin.set_active": {A},
    "admin.resend_invitation": {A},
    "admin.audit_log": {A},
    "api.docs": PUBLIC,
    "api-docs.openapi_json": PUBLIC,
    "api_me.get_me": ANY,
    "api_tokens.list_tokens": ANY,
    "api_tokens.create_token": ANY,
    "api_tokens.revoke_token": ANY,
    "api_users.list_users": {A},
    "api_users.create_user": {A},
    "api_users.get_user": {A},
    "api_users.update_user": {A},
}


@dataclass(frozen=True)
class ObjectCase:
    """A route about one object: its owner gets in, another person of the same role does not."""

    owner_role: Role
    #: status the unrelated person of the same role gets
    unrelated_status: int = 404


#: endpoint -> the object-level rule to prove, for routes whose URL names an object.
OBJECT_LEVEL: dict[str, ObjectCase] = {
    "accounts.revoke_token": ObjectCase(T),
    "api_tokens.revoke_token": ObjectCase(T),
}

IDENTITIES = ["anonymous", *Role]


def _expected_allowed(access, identity) -> bool:
    if access == PUBLIC:
        return True
    if identity == "anonymous":
        return False
    return access == ANY or identity in access


def _rules(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def test_every_route_is_in_the_table_and_declares_the_same_rule(app):
    problems = []
    for rule in app.url_map.iter_rules():
        declared = rule_for_endpoint(app, rule.endpoint)
        expected = ACCESS.get(rule.endpoint)
        if declared is None:
            problems.append(f"{rule.endpoint} ({rule.rule}) declares no access rule")
        elif expected is None:
            problems.append(f"{rule.endpoint} ({rule.rule}) is missing from ACCESS in this test")
        else:
            as_table = PUBLIC if declared.is_public else (ANY if not declared.roles else set(declared.roles))
            if as_table != expected:
                problems.append(f"{rule.endpoint}: declares {as_table}, table says {expected}")
    stale = set(ACCESS) - {r.endpoint for r in app.url_map.iter_rules()}
    problems += [f"{endpoint} is in ACCESS but no longer registered" for endpoint in sorted(stale)]
    assert not problems, "\n".join(problems)


@pytest.fixture
def world(db, make_user, make_token):
    """One user per role, each with an API token, and objects for URL parameters."""
    from lms.accounts.services import make_password_token

    people = {role: make_user(role) for role in Role}
    tokens = {role: make_token(people[role])[1] for role in Role}
    owner_token, _plain = make_token(people[T], name="owned by the trainee")
    subject = make_user(T, name="Subject of admin pages")
    values = {
        "user_id": subject.id,
        "token_id": owner_token.id,
        "token": make_password_token(subject),
        "filename": "css/lms.css",
    }
    db.session.commit()
    return people, tokens, values


def _url(rule, values) -> str:
    missing = [arg for arg in rule.arguments if arg not in values]
    assert not missing, f"{rule.endpoint}: add an example value for {missing} to the world fixture"
    url = rule.rule
    for arg in rule.arguments:
        url = re.sub(rf"<(?:[a-z]+:)?{arg}>", str(values[arg]), url)
    return url


def _call(client, method, url, bearer=None):
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    kwargs = {"json": {}} if url.startswith("/api/") and method in {"POST", "PATCH", "PUT"} else {}
    return client.open(url, method=method, headers=headers, **kwargs)


def test_every_route_answers_each_role_as_declared(app, world, login_as):
    people, tokens, values = world
    problems = []
    clients = {"anonymous": app.test_client()}
    for role in Role:
        clients[role] = app.test_client()
        response = clients[role].post(
            "/account/login", data={"email": people[role].email, "password": "correct horse battery"}
        )
        assert response.status_code == 302
    for rule, method in _rules(app):
        if rule.endpoint in OBJECT_LEVEL or rule.endpoint == "accounts.logout":
            continue  # proved below, with their owners; logging out would end the session
        url = _url(rule, values)
        is_api = url.startswith("/api/")
        access = ACCESS.get(rule.endpoint)
        for identity in IDENTITIES:
            bearer = tokens.get(identity) if is_api else None
            status = _call(clients[identity], method, url, bearer).status_code
            allowed = _expected_allowed(access, identity)
            if status >= 500:
                problems.append(f"{method} {url} as {identity}: {status}")
            elif allowed and status in (401, 403):
                problems.append(f"{method} {url} as {identity}: refused with {status}, should be allowed")
            elif not allowed:
                refused = {401} if (is_api and identity == "anonymous") else {403}
                if not is_api and identity == "anonymous":
                    refused = {302}
                if status not in refused:
                    problems.append(f"{method} {url} as {identity}: {status}, expected {sorted(refused)}")
    assert not problems, "\n".join(problems)


def test_object_level_rules(app, db, make_user, make_token, world):
    people, _tokens, _values = world
    from lms.accounts.models import ApiToken

    problems = []
    for endpoint, case in OBJECT_LEVEL.items():
        rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
        method = sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
        for who in ("unrelated", "owner"):
            owner = make_user(case.owner_role)
            stranger = make_user(case.owner_role)
            token, _ = make_token(owner)
            db.session.commit()
            url = _url(rule, {"token_id": token.id})
            actor = owner if who == "owner" else stranger
            client = app.test_client()
            if url.startswith("/api/"):
                _t, bearer = make_token(actor)
                db.session.commit()
                status = _call(client, method, url, bearer).status_code
            else:
                client.post(
                    "/account/login", data={"email": actor.email, "password": "correct horse battery"}
                )
                status = _call(client, method, url).status_code
            db.session.expire_all()
            revoked = db.session.get(ApiToken, token.id).revoked_at is not None
            if who == "unrelated" and (status != case.unrelated_status or revoked):
                problems.append(f"{endpoint} as unrelated {case.owner_role}: {status}, revoked={revoked}")
            if who == "owner" and (status >= 400 or not revoked):
                problems.append(f"{endpoint} as owner: {status}, revoked={revoked}")
    assert not problems, "\n".join(problems)
