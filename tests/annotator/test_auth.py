"""Login, server-side sessions, CSRF, login CSRF and the login throttle, through the HTTP API
and the login form (both database back ends)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import Session, select

import fgtext.store.sessions
from fgtext import store
from tests.annotator.conftest import PASSWORD

LOGIN = "/api/v1/auth/login"
ME = "/api/v1/auth/me"
SAME_SITE = {"Origin": "http://testserver"}


class Clock:
    """The store's idea of now, moved by hand."""

    def __init__(self, monkeypatch) -> None:
        self.now = store.UserSession.model_fields["created_at"].default_factory()
        monkeypatch.setattr(fgtext.store.sessions, "utc_now", lambda: self.now)

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def copied(app, client: TestClient) -> TestClient:
    """Another client holding a copy of `client`'s session cookie (as a thief would)."""
    return TestClient(app, cookies={"fgtext_session": client.cookies["fgtext_session"]})


def api_login(app, username: str, password: str = PASSWORD, **kw) -> tuple[TestClient, int]:
    client = TestClient(app, **kw)
    reply = client.post(LOGIN, json={"username": username, "password": password})
    if reply.status_code == 200:
        client.headers["X-CSRF-Token"] = reply.json()["csrf_token"]
    return client, reply.status_code


# -- the session cookie ---------------------------------------------------------------------


def test_login_sets_a_random_httponly_lax_cookie_and_me_returns_the_user(app, engine, make_user):
    make_user("bea", login=False)
    client = TestClient(app)
    reply = client.post(LOGIN, json={"username": "bea", "password": PASSWORD})
    assert reply.status_code == 200
    body = reply.json()
    assert body["user"]["username"] == "bea" and body["user"]["role"] == "annotator"
    assert "password_hash" not in body["user"] and len(body["csrf_token"]) >= 32
    cookie = reply.headers["set-cookie"].lower()
    assert cookie.startswith("fgtext_session=")
    assert "httponly" in cookie and "samesite=lax" in cookie and "max-age=1209600" in cookie
    assert "secure" not in cookie  # development: plain http on localhost works

    me = client.get(ME)
    assert me.status_code == 200
    assert me.json() == body  # same user, same CSRF token for the session

    # The cookie is only a random token; the database keeps its SHA-256, never the token.
    value = client.cookies["fgtext_session"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", value)
    with Session(engine) as session:
        (row,) = session.exec(select(store.UserSession)).all()
    assert row.id != value and len(row.id) == 64 and row.csrf_token == body["csrf_token"]
    tampered = value[:5] + ("A" if value[5] != "A" else "B") + value[6:]
    assert TestClient(app, cookies={"fgtext_session": value}).get(ME).status_code == 200
    assert TestClient(app, cookies={"fgtext_session": tampered}).get(ME).status_code == 401
    assert TestClient(app, cookies={"fgtext_session": row.id}).get(ME).status_code == 401


def test_logging_in_again_replaces_the_session(app, engine, make_user):
    bea = make_user("bea")
    before = bea.client.cookies["fgtext_session"]
    again = bea.client.post(LOGIN, json={"username": "bea", "password": PASSWORD})
    assert again.status_code == 200 and bea.client.cookies["fgtext_session"] != before
    assert TestClient(app, cookies={"fgtext_session": before}).get(ME).status_code == 401
    with Session(engine) as session:
        assert store.count_sessions(session, user=bea.user) == 1


def test_wrong_password_and_unknown_user_get_the_same_401(app, make_user):
    make_user("bea", login=False)
    client = TestClient(app)
    wrong = client.post(LOGIN, json={"username": "bea", "password": "not the password"})
    unknown = client.post(LOGIN, json={"username": "nobody", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "wrong username or password"}
    assert "set-cookie" not in wrong.headers
    assert client.get(ME).status_code == 401


def test_a_copied_cookie_is_dead_after_api_logout(app, make_user):
    bea = make_user("bea")
    thief = copied(app, bea.client)
    assert thief.get(ME).status_code == 200
    out = bea.client.post("/api/v1/auth/logout")
    assert out.status_code == 204 and 'fgtext_session=""' in out.headers["set-cookie"]
    assert thief.get(ME).status_code == 401
    assert thief.get("/api/v1/projects").status_code == 401
    assert bea.client.get(ME).status_code == 401


def test_a_copied_cookie_is_dead_after_form_logout(app, make_user):
    bea = make_user("bea")
    thief = copied(app, bea.client)
    home = bea.client.get("/")
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', home.text).group(1)
    out = bea.client.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303
    assert thief.get(ME).status_code == 401
    assert thief.get("/", follow_redirects=False).status_code == 303  # to the login page


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
    assert admin.client.get(ME).status_code == 401


def test_requests_without_a_session_are_401(app):
    client = TestClient(app)
    assert client.get("/api/v1/projects").status_code == 401
    reply = client.post("/api/v1/projects/1/next")
    assert reply.status_code == 401
    assert "/api/v1/auth/login" in reply.json()["detail"]
    assert client.get("/media/1").status_code == 401


# -- changes to the user end their sessions --------------------------------------------------


@pytest.mark.parametrize(
    "change", [{"is_active": False}, {"password": "a fresh password"}, {"role": "reviewer"}]
)
def test_a_change_to_the_user_ends_every_session_of_theirs(app, admin, make_user, change):
    bea = make_user("bea")
    elsewhere, _ = api_login(app, "bea")
    thief = copied(app, bea.client)
    reply = admin.client.patch(f"/api/v1/users/{bea.user.id}", json=change)
    assert reply.status_code == 200
    for client in (bea.client, elsewhere, thief):
        assert client.get(ME).status_code == 401
    assert admin.client.get(ME).status_code == 200  # others are unaffected
    password = change.get("password", PASSWORD)
    expected = 401 if change.get("is_active") is False else 200
    assert api_login(app, "bea", password)[1] == expected


def test_a_change_made_in_the_store_ends_the_sessions_too(app, engine, make_user):
    """The command line and scripts change users through the store: same effect."""
    bea = make_user("bea")
    with Session(engine) as session:
        store.update_user(session, user=bea.user, role="reviewer", actor=None)
    assert bea.client.get(ME).status_code == 401


def test_an_admin_ends_a_users_sessions(app, engine, admin, make_user):
    bea, cal = make_user("bea"), make_user("cal")
    thief = copied(app, bea.client)
    url = f"/api/v1/users/{bea.user.id}/sessions"
    assert cal.client.delete(url).status_code == 403  # admins only
    assert admin.client.delete(url, headers={"X-CSRF-Token": ""}).status_code == 403  # CSRF
    assert bea.client.get(ME).status_code == 200
    assert admin.client.delete(url).status_code == 204
    assert bea.client.get(ME).status_code == thief.get(ME).status_code == 401
    assert cal.client.get(ME).status_code == admin.client.get(ME).status_code == 200
    assert admin.client.delete("/api/v1/users/999/sessions").status_code == 404
    with Session(engine) as session:
        event = session.exec(
            select(store.AuditEvent).where(store.AuditEvent.action == "user.sessions_end")
        ).one()
    assert (event.actor_id, event.entity_id, event.payload) == (
        admin.user.id, str(bea.user.id), {"sessions": 1}
    )  # fmt: skip
    page = admin.client.get("/admin")
    assert f'data-api="DELETE /api/v1/users/{bea.user.id}/sessions"' in page.text


# -- expiry ---------------------------------------------------------------------------------


def test_sessions_end_after_the_idle_time(app, engine, make_user, monkeypatch):
    clock = Clock(monkeypatch)
    idle = app.state.settings.session_idle_seconds  # 8 h
    bea = make_user("bea")
    clock.advance(seconds=idle - 60)
    assert bea.client.get(ME).status_code == 200  # in use: the idle time starts again
    clock.advance(seconds=idle - 60)
    assert bea.client.get(ME).status_code == 200
    clock.advance(seconds=idle + 1)
    assert bea.client.get(ME).status_code == 401
    # An expired session's row is deleted at the next login (anyone's).
    api_login(app, "bea")
    with Session(engine) as session:
        assert store.count_sessions(session, user=bea.user) == 1


def test_last_seen_is_written_at_most_once_a_minute(app, engine, make_user, monkeypatch):
    clock = Clock(monkeypatch)
    bea = make_user("bea")

    def last_seen():
        with Session(engine) as session:
            row = session.exec(select(store.UserSession)).one()
            return store.models.as_utc(row.last_seen_at)

    login_time = last_seen()
    clock.advance(seconds=59)
    assert bea.client.get(ME).status_code == 200 and last_seen() == login_time
    clock.advance(seconds=2)
    assert bea.client.get(ME).status_code == 200 and last_seen() == clock.now


def test_sessions_end_at_their_absolute_expiry_however_busy(app, make_user, monkeypatch):
    clock = Clock(monkeypatch)
    max_age = app.state.settings.session_max_age  # 14 days
    bea = make_user("bea")
    step = app.state.settings.session_idle_seconds - 60
    used = 0
    while used + step < max_age:
        clock.advance(seconds=step)
        used += step
        assert bea.client.get(ME).status_code == 200, used
    clock.advance(seconds=max_age - used)
    assert bea.client.get(ME).status_code == 401


# -- login CSRF -----------------------------------------------------------------------------


def form_login(client: TestClient, headers: dict[str, str]):
    return client.post(
        "/login", data={"username": "bea", "password": PASSWORD, "next": "/"},
        headers=headers, follow_redirects=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "https://evil.example"}, {"Origin": "null"},
     {"Referer": "https://evil.example/login"}, {}],
)  # fmt: skip
def test_a_login_form_posted_from_another_site_is_refused(app, make_user, headers):
    make_user("bea", login=False)
    client = TestClient(app)
    reply = form_login(client, headers)
    assert reply.status_code == 403 and "login refused" in reply.text
    assert "set-cookie" not in reply.headers and client.get(ME).status_code == 401


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "http://testserver"}, {"Origin": "https://testserver"},
     {"Referer": "http://testserver/login?next=/"}],
)  # fmt: skip
def test_the_login_form_from_this_site_logs_in(app, make_user, headers):
    make_user("bea", login=False)
    client = TestClient(app)
    reply = form_login(client, headers)
    assert reply.status_code == 303 and client.get(ME).status_code == 200


def test_trusted_origins_are_accepted(settings, make_user):
    from annotator.app import create_app

    behind_proxy = settings.model_copy(
        update={"trusted_origins": "https://annotate.example, https://other.example/"}
    )
    app = create_app(behind_proxy)
    make_user("bea", login=False)
    assert form_login(TestClient(app), {"Origin": "https://other.example"}).status_code == 303
    assert form_login(TestClient(app), {"Origin": "https://third.example"}).status_code == 403


def test_the_json_login_refuses_other_sites_and_anything_but_json(app, make_user):
    """What a cross-site page can send: a form (urlencoded or text/plain, whose body may even
    be JSON) or a fetch with a foreign Origin. None of them logs in."""
    make_user("bea", login=False)
    client = TestClient(app)
    foreign = client.post(
        LOGIN, json={"username": "bea", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )  # fmt: skip
    assert foreign.status_code == 403 and "another site" in foreign.json()["detail"]
    as_json = f'{{"username": "bea", "password": "{PASSWORD}"}}'
    for content_type, body in (
        ("text/plain", as_json),
        ("application/x-www-form-urlencoded", f"username=bea&password={PASSWORD}"),
        ("multipart/form-data; boundary=x", as_json),
    ):
        reply = client.post(LOGIN, content=body, headers={"Content-Type": content_type})
        assert reply.status_code == 422, (content_type, reply.text)
        assert "set-cookie" not in reply.headers
    # Non-browser clients send no Origin: allowed (this file's other tests log in that way).
    assert client.post(LOGIN, json={"username": "bea", "password": PASSWORD}).status_code == 200


# -- the login throttle ---------------------------------------------------------------------


def test_failures_are_limited_per_username_across_clients(app, make_user):
    make_user("bea", login=False)
    make_user("cal", login=False)
    for n in range(5):
        _, code = api_login(app, "bea", "guess", client=(f"10.0.0.{n}", 1000))
        assert code == 401
    client = TestClient(app, client=("10.0.0.99", 1000))
    limited = client.post(LOGIN, json={"username": "BEA", "password": PASSWORD})
    assert limited.status_code == 429  # even the right password, from a fresh address
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert "too many failed logins" in limited.json()["detail"]
    # Another username from the same clients is not affected.
    assert api_login(app, "cal", client=("10.0.0.1", 1000))[1] == 200


def test_spraying_one_password_over_many_usernames_is_limited_per_client(app, make_user):
    make_user("bea", login=False)
    per_client = app.state.settings.login_max_failures_per_client  # 20
    for n in range(per_client):
        assert api_login(app, f"user{n}", "Summer2026!")[1] == 401
    assert api_login(app, "user99", "Summer2026!")[1] == 429
    assert api_login(app, "bea")[1] == 429  # that client is throttled, whoever it names
    assert api_login(app, "bea", client=("10.1.1.1", 1))[1] == 200  # others are not


def test_failures_expire_after_the_window_and_a_success_clears_them(app, make_user, monkeypatch):
    clock = Clock(monkeypatch)
    make_user("bea", login=False)
    client = TestClient(app)

    def attempt(password: str) -> int:
        return client.post(LOGIN, json={"username": "bea", "password": password}).status_code

    assert [attempt("guess") for _ in range(4)] == [401] * 4
    assert attempt(PASSWORD) == 200  # clears this client's four failures
    assert [attempt("guess") for _ in range(5)] == [401] * 5
    clock.advance(seconds=30)
    limited = client.post(LOGIN, json={"username": "bea", "password": PASSWORD})
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "30"
    clock.advance(seconds=30)  # the window (60 s) has passed since the failures
    assert attempt(PASSWORD) == 200


def test_old_failures_are_pruned(app, engine, make_user, monkeypatch):
    clock = Clock(monkeypatch)
    for n in range(3):
        api_login(app, f"user{n}", "guess")
    clock.advance(seconds=61)
    api_login(app, "late", "guess")
    with Session(engine) as session:
        rows = session.exec(select(store.LoginFailure)).all()
    assert [(r.username, r.client) for r in rows] == [("late", "testclient")]


def test_the_login_form_is_throttled_and_refused_cross_site_before_any_password_check(
    app, engine, make_user
):
    make_user("bea", login=False)
    client = TestClient(app)
    for _ in range(3):
        assert form_login(client, {"Origin": "https://evil.example"}).status_code == 403
    with Session(engine) as session:
        assert session.exec(select(store.LoginFailure)).all() == []


# -- deployment -----------------------------------------------------------------------------


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
    assert client.get(ME).status_code == 200


def test_argon2_parameters_are_the_stated_ones(password_hash):
    from annotator import auth

    assert password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert (auth.ARGON2_TIME_COST, auth.ARGON2_MEMORY_KIB, auth.ARGON2_PARALLELISM) == (3, 65536, 4)
    assert not auth.needs_rehash(password_hash)


def test_credentials_no_database_can_hold_are_a_422_on_the_form_and_the_api(app):
    """NUL: PostgreSQL's text cannot hold it (a 500 before)."""
    client = TestClient(app)
    form = client.post(
        "/login", data={"username": "be\x00a", "password": PASSWORD}, headers=SAME_SITE,
        follow_redirects=False,
    )  # fmt: skip
    assert form.status_code == 422 and "username: must not contain a NUL character" in form.text
    for username, password in (("be\x00a", "password"), ("bea", "pass\x00word")):
        reply = client.post(LOGIN, json={"username": username, "password": password})
        assert reply.status_code == 422
        field = "username" if "\x00" in username else "password"
        detail = str(reply.json()["detail"])  # the field is named, whichever check refused it
        assert field in detail and "NUL" in detail
