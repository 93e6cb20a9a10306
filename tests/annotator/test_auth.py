"""Login, sessions, CSRF and the login rate limit, through the HTTP API."""

from __future__ import annotations

from fastapi.testclient import TestClient
from pydantic import SecretStr

from tests.annotator.conftest import PASSWORD

LOGIN = "/api/v1/auth/login"


def test_login_sets_a_signed_httponly_lax_cookie_and_me_returns_the_user(app, make_user):
    make_user("bea", login=False)
    client = TestClient(app)
    reply = client.post(LOGIN, json={"username": "bea", "password": PASSWORD})
    assert reply.status_code == 200
    body = reply.json()
    assert body["user"]["username"] == "bea" and body["user"]["role"] == "annotator"
    assert "password_hash" not in body["user"] and len(body["csrf_token"]) >= 32
    cookie = reply.headers["set-cookie"].lower()
    assert cookie.startswith("fgtext_session=")
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie  # development: plain http on localhost works

    me = client.get("/api/v1/auth/me")
    assert me.status_code == 200
    assert me.json() == body  # same user, same CSRF token for the session

    # A tampered cookie is not a session.
    value = client.cookies["fgtext_session"]
    tampered = value[:5] + ("A" if value[5] != "A" else "B") + value[6:]
    assert (
        TestClient(app, cookies={"fgtext_session": value}).get("/api/v1/auth/me").status_code == 200
    )
    forged = TestClient(app, cookies={"fgtext_session": tampered})
    assert forged.get("/api/v1/auth/me").status_code == 401


def test_wrong_password_and_unknown_user_get_the_same_401(app, make_user):
    make_user("bea", login=False)
    client = TestClient(app)
    wrong = client.post(LOGIN, json={"username": "bea", "password": "not the password"})
    unknown = client.post(LOGIN, json={"username": "nobody", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "wrong username or password"}
    assert "set-cookie" not in wrong.headers
    assert client.get("/api/v1/auth/me").status_code == 401


def test_login_failures_are_rate_limited_per_username_and_client(app, make_user):
    make_user("bea", login=False)
    make_user("cal", login=False)
    client = TestClient(app)
    for _ in range(5):
        assert client.post(LOGIN, json={"username": "bea", "password": "guess"}).status_code == 401
    limited = client.post(LOGIN, json={"username": "bea", "password": PASSWORD})
    assert limited.status_code == 429  # even the right password while locked out
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert "too many failed logins" in limited.json()["detail"]
    # Another username from the same client is not affected.
    assert client.post(LOGIN, json={"username": "cal", "password": PASSWORD}).status_code == 200


def test_failures_expire_after_the_window_and_a_success_clears_them(app, make_user, monkeypatch):
    import annotator.auth

    now = [1000.0]
    monkeypatch.setattr(annotator.auth.time, "monotonic", lambda: now[0])
    make_user("bea", login=False)
    client = TestClient(app)

    def attempt(password: str) -> int:
        return client.post(LOGIN, json={"username": "bea", "password": password}).status_code

    assert [attempt("guess") for _ in range(4)] == [401] * 4
    assert attempt(PASSWORD) == 200  # clears the four failures
    assert [attempt("guess") for _ in range(5)] == [401] * 5
    now[0] += 30
    limited = client.post(LOGIN, json={"username": "bea", "password": PASSWORD})
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "30"
    now[0] += 30  # the window (60 s) has passed since the failures
    assert attempt(PASSWORD) == 200


def test_writes_without_the_csrf_header_are_refused(admin):
    body = {"username": "dan", "password": "a long password", "role": "annotator"}
    headers = {"X-CSRF-Token": ""}
    missing = admin.client.post("/api/v1/users", json=body, headers=headers)
    assert missing.status_code == 403
    assert "X-CSRF-Token" in missing.json()["detail"]
    wrong = admin.client.post("/api/v1/users", json=body, headers={"X-CSRF-Token": "x" * 43})
    assert wrong.status_code == 403
    assert admin.client.post("/api/v1/users", json=body).status_code == 201  # the right token
    # Reads need no token; logout is a write.
    assert admin.client.get("/api/v1/users", headers=headers).status_code == 200
    assert admin.client.post("/api/v1/auth/logout", headers=headers).status_code == 403
    assert admin.client.post("/api/v1/auth/logout").status_code == 204
    assert admin.client.get("/api/v1/auth/me").status_code == 401


def test_requests_without_a_session_are_401(app):
    client = TestClient(app)
    assert client.get("/api/v1/projects").status_code == 401
    reply = client.post("/api/v1/projects/1/next")
    assert reply.status_code == 401
    assert "/api/v1/auth/login" in reply.json()["detail"]
    assert client.get("/media/1").status_code == 401


def test_a_deactivated_user_is_logged_out_at_once(admin, make_user):
    bea = make_user("bea")
    assert bea.client.get("/api/v1/auth/me").status_code == 200
    reply = admin.client.patch(f"/api/v1/users/{bea.user.id}", json={"is_active": False})
    assert reply.status_code == 200 and reply.json()["is_active"] is False
    assert bea.client.get("/api/v1/auth/me").status_code == 401
    login = bea.client.post(LOGIN, json={"username": "bea", "password": PASSWORD})
    assert login.status_code == 401


def test_production_cookies_are_secure(settings, make_user):
    from annotator.app import create_app

    production = settings.model_copy(
        update={"env": "production", "secret_key": SecretStr("s" * 48)}
    )
    client = TestClient(create_app(production), base_url="https://annotate.example")
    make_user("bea", login=False)
    reply = client.post(LOGIN, json={"username": "bea", "password": PASSWORD})
    assert reply.status_code == 200
    assert "; secure" in reply.headers["set-cookie"].lower()
    assert client.get("/api/v1/auth/me").status_code == 200


def test_a_new_password_ends_existing_sessions(admin, make_user):
    bea = make_user("bea")
    reply = admin.client.patch(
        f"/api/v1/users/{bea.user.id}", json={"password": "a fresh password"}
    )
    assert reply.status_code == 200
    assert bea.client.get("/api/v1/auth/me").status_code == 401
    again = bea.client.post(LOGIN, json={"username": "bea", "password": "a fresh password"})
    assert again.status_code == 200
    assert admin.client.get("/api/v1/auth/me").status_code == 200  # others are unaffected
