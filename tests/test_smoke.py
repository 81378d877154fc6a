from lms.permissions import Role


def test_login_and_dashboard(client, make_user, login_as):
    user = make_user(Role.TRAINEE, name="Tess Trainee")
    login_as(user)
    response = client.get("/dashboard")
    assert response.status_code == 200
    assert "Tess Trainee" in response.get_data(as_text=True)


def test_api_me(api, make_user):
    user = make_user(Role.ADMIN)
    response = api(user).get("/api/v1/me")
    assert response.status_code == 200
    assert response.json["email"] == user.email


def test_rollback_isolation_one(make_user):
    make_user(email="isolated@example.org")


def test_rollback_isolation_two(db):
    from lms.accounts.services import find_user_by_email

    assert find_user_by_email("isolated@example.org") is None


def test_favicon_ico_points_at_the_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response.headers["Location"].endswith("/static/favicon.svg")
