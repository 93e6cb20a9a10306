"""`fgtext-annotator serve --workers N`: several processes behave as one, because sessions and
the login throttle live in the database; and X-Forwarded-For is believed only from the proxies
named with --forwarded-allow-ips. The servers here are real subprocesses on a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from sqlmodel import Session

from fgtext import store
from tests.annotator.conftest import PASSWORD

PER_CLIENT = 10  # FGTEXT_LOGIN_MAX_FAILURES_PER_CLIENT for the servers here (default 20)


def test_serve_trusts_forwarded_headers_only_from_the_given_proxies(cli, settings, monkeypatch):
    calls: list[tuple[object, dict]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    monkeypatch.delenv("FGTEXT_DATABASE_URL", raising=False)
    url = settings.database_url
    assert cli("serve", "--db", url)[0] == 0
    app, options = calls.pop()
    assert options["proxy_headers"] is False and "forwarded_allow_ips" not in options
    assert app.state.settings.database_url == url and "workers" not in options

    assert cli("serve", "--db", url, "--threads", "5")[0] == 0
    assert calls.pop()[0].state.settings.threads == 5

    monkeypatch.delenv("FGTEXT_THREADS", raising=False)
    code, out, _ = cli(
        "serve", "--db", url, "--workers", "3", "--threads", "6",
        "--forwarded-allow-ips", "10.0.0.7",
    )  # fmt: skip
    assert code == 0 and "3 workers" in out
    app, options = calls.pop()
    assert app == "annotator.app:create_app" and options["factory"] is True
    assert options["workers"] == 3
    assert options["proxy_headers"] is True and options["forwarded_allow_ips"] == "10.0.0.7"
    # what the workers' create_app() reads
    assert os.environ["FGTEXT_DATABASE_URL"] == url and os.environ["FGTEXT_THREADS"] == "6"


def test_serve_refuses_zero_workers_or_threads(cli):
    code, _, err = cli("serve", "--workers", "0")
    assert code == 2 and "--workers" in err
    code, _, err = cli("serve", "--threads", "0")
    assert code == 2 and "--threads" in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children_cpu(pid: int) -> list[int]:
    """CPU ticks used so far by each child process of `pid` (Linux /proc): uvicorn's workers
    and multiprocessing's helper."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    ticks = []
    for child in children:
        fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        ticks.append(int(fields[11]) + int(fields[12]))  # utime + stime
    return ticks


@contextmanager
def serving(database_url: str, media_root, *, workers: int) -> Iterator[tuple[str, int]]:
    """`fgtext-annotator serve --workers N` on a free port, until the block ends."""
    port = _free_port()
    env = {**os.environ, "FGTEXT_MEDIA_ROOT": str(media_root), "FGTEXT_ENV": "development",
           "FGTEXT_LOGIN_MAX_FAILURES_PER_CLIENT": str(PER_CLIENT)}  # fmt: skip
    env.pop("FGTEXT_DATABASE_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "annotator.cli", "serve", "--port", str(port), "--db", database_url,
         "--workers", str(workers), "--log-level", "warning"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, server.communicate()
            try:
                httpx.get(f"{base}/api/v1/openapi.json", timeout=2).raise_for_status()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not answer within 90 s"
                time.sleep(0.2)
        yield base, server.pid
    finally:
        server.terminate()
        try:
            _, err = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:  # pragma: no cover - a stuck worker
            server.kill()
            _, err = server.communicate()
    assert "Traceback" not in err, err


def _login(base: str, username: str, password: str = PASSWORD, **headers: str) -> httpx.Response:
    """One login on a fresh connection (no shared client: each may reach another worker)."""
    return httpx.post(
        f"{base}/api/v1/auth/login", json={"username": username, "password": password},
        headers=headers, timeout=30,
    )  # fmt: skip


def _me(base: str, cookie: str) -> int:
    return httpx.get(
        f"{base}/api/v1/auth/me", headers={"Cookie": f"fgtext_session={cookie}"}, timeout=30
    ).status_code


def test_two_workers_share_sessions_and_login_limits(database_url, media_root, password_hash):
    """On PostgreSQL (the deployment) and SQLite (a smoke test: several processes on one file)."""
    store.upgrade_database(database_url)
    engine = store.create_db_engine(database_url)
    try:
        with Session(engine) as session:
            for name in ("bea", "cal"):
                store.create_user(session, username=name, password_hash=password_hash,
                                  role="annotator")  # fmt: skip
    finally:
        engine.dispose()

    with serving(database_url, media_root, workers=2) as (base, pid):
        time.sleep(1)  # both workers up (the first one answering does not mean the second is)
        cpu_before = _children_cpu(pid)
        # A session made by one worker is known to all, and its logout ends it on all.
        login = _login(base, "bea")
        assert login.status_code == 200
        cookie, csrf = login.cookies["fgtext_session"], login.json()["csrf_token"]
        assert [_me(base, cookie) for _ in range(20)] == [200] * 20
        out = httpx.post(
            f"{base}/api/v1/auth/logout", timeout=30,
            headers={"Cookie": f"fgtext_session={cookie}", "X-CSRF-Token": csrf},
        )  # fmt: skip
        assert out.status_code == 204
        assert [_me(base, cookie) for _ in range(20)] == [401] * 20

        # Five failures for one username, whichever workers answered: the sixth is 429.
        assert [_login(base, "cal", "guess").status_code for _ in range(5)] == [401] * 5
        limited = _login(base, "cal")
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1

        # Spraying other usernames from this client, with a new X-Forwarded-For each time:
        # the header is not believed (no --forwarded-allow-ips), the client is loopback.
        sprayed = [
            _login(base, f"user{n}", "Summer2026!", **{"X-Forwarded-For": f"203.0.113.{n}"})
            for n in range(PER_CLIENT - 5)
        ]
        assert [r.status_code for r in sprayed] == [401] * (PER_CLIENT - 5)
        blocked = _login(base, "user99", "Summer2026!", **{"X-Forwarded-For": "198.51.100.1"})
        assert blocked.status_code == 429

        # Both workers answered some of these requests (each used CPU), so the checks above
        # did cross processes.
        busy = [
            after - before for after, before in zip(_children_cpu(pid), cpu_before, strict=True)
        ]
        assert sum(1 for ticks in busy if ticks > 0) >= 2, busy
