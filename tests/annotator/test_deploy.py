"""Dockerfile and docker-compose.yml agree with the app's settings and commands, and what they
run (a one-shot `fgtext db upgrade`, then the app in production mode) works on a real database.
There is no Docker engine here, so the containers themselves are not started."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml
from fastapi.testclient import TestClient
from sqlmodel import Session

from annotator.app import create_app
from annotator.auth import hash_password
from annotator.settings import Settings, load_settings
from fgtext import store

ROOT = Path(__file__).resolve().parents[2]
SETTING_VARIABLES = {f"FGTEXT_{name.upper()}" for name in Settings.model_fields}


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def dockerfile_cmd() -> list[str]:
    (line,) = [ln for ln in (ROOT / "Dockerfile").read_text().splitlines() if ln.startswith("CMD ")]
    return json.loads(line.removeprefix("CMD "))


def test_compose_services_use_the_settings_the_app_reads():
    services = compose()["services"]
    assert set(services) == {"db", "migrate", "app"}
    assert services["db"]["image"] == "postgres:16"
    app, migrate = services["app"], services["migrate"]
    assert set(app["environment"]) <= SETTING_VARIABLES
    assert app["environment"]["FGTEXT_ENV"] == "production"
    assert "FGTEXT_SECRET_KEY" in app["environment"]  # required outside development
    # The same database for the migration and the app, on the db service, as its user.
    url = app["environment"]["FGTEXT_DATABASE_URL"]
    assert migrate["environment"]["FGTEXT_DATABASE_URL"] == url
    db_env = services["db"]["environment"]
    assert re.fullmatch(
        rf"postgresql://{db_env['POSTGRES_USER']}:[^@]+@db:5432/{db_env['POSTGRES_DB']}", url
    )
    assert migrate["command"] == ["fgtext", "db", "upgrade"]  # reads FGTEXT_DATABASE_URL
    assert app["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    # Media: the volume is mounted where FGTEXT_MEDIA_ROOT points.
    media = app["environment"]["FGTEXT_MEDIA_ROOT"]
    assert any(v.rsplit(":", 2)[1] == media for v in app["volumes"])
    assert app["command"] == dockerfile_cmd()
    assert app["command"][:4] == ["fgtext-annotator", "serve", "--host", "0.0.0.0"]
    assert app["command"][-2:] == ["--workers", "2"]  # processes share state via PostgreSQL
    assert "8000:8000" in app["ports"]


def test_dockerfile_installs_the_package_without_the_train_extra():
    text = (ROOT / "Dockerfile").read_text()
    assert [ln for ln in text.splitlines() if ln.startswith("FROM ")] == ["FROM python:3.11-slim"]
    installs = re.findall(r"pip install ([^&\n]*)", text)
    assert [i.strip() for i in installs] == ["."]  # no [train] extra
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".git" in ignored


def test_what_compose_runs_works_migrate_then_serve_in_production(database_url, tmp_path):
    # The URL as compose writes it (plain postgresql://), handed over the environment.
    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    env = {**os.environ, "FGTEXT_DATABASE_URL": url}
    upgraded = subprocess.run(
        [sys.executable, "-m", "fgtext.cli", "db", "upgrade"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert upgraded.returncode == 0, upgraded.stderr
    assert "Upgraded" in upgraded.stdout

    environment = {
        "FGTEXT_ENV": "production",
        "FGTEXT_DATABASE_URL": url,
        "FGTEXT_SECRET_KEY": "s3cr3t-" * 8,
        "FGTEXT_MEDIA_ROOT": str(tmp_path),
    }
    old = {k: os.environ.get(k) for k in environment}
    os.environ.update(environment)
    try:
        settings = load_settings()
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key)
            else:
                os.environ[key] = value
    assert not settings.should_auto_upgrade
    app = create_app(settings)
    with Session(app.state.engine) as session:
        store.create_user(
            session, username="ada", password_hash=hash_password("a long password"), role="admin"
        )
    client = TestClient(app, base_url="https://annotate.example")
    login = client.post(
        "/api/v1/auth/login", json={"username": "ada", "password": "a long password"}
    )
    assert login.status_code == 200
    assert "; secure" in login.headers["set-cookie"].lower()
    assert client.get("/api/v1/projects").json() == []
