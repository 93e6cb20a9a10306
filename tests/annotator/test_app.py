"""Start-up: settings, the schema check, the OpenAPI docs."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from annotator.app import create_app
from annotator.settings import Settings, load_settings
from fgtext import store
from fgtext.errors import FgTextError


def test_an_outdated_database_stops_the_app_naming_the_upgrade_command(database_url, tmp_path):
    settings = Settings(database_url=database_url, media_root=tmp_path, auto_upgrade=False)
    with pytest.raises(store.OutdatedDatabaseError) as caught:
        create_app(settings)
    message = str(caught.value)
    assert "fgtext db upgrade --db " in message
    assert "\n" not in message
    # The database was left alone.
    engine = store.create_db_engine(database_url)
    try:
        assert store.schema_status(engine).current is None
    finally:
        engine.dispose()


def test_postgresql_is_never_upgraded_implicitly_but_embedded_sqlite_in_development_is(
    database_url, tmp_path
):
    settings = Settings(database_url=database_url, media_root=tmp_path)
    if database_url.startswith("sqlite"):
        assert settings.should_auto_upgrade
        app = create_app(settings)
        assert store.schema_status(app.state.engine).is_current
        with Session(app.state.engine) as session:
            assert store.list_users(session) == []
    else:
        assert not settings.should_auto_upgrade
        with pytest.raises(store.OutdatedDatabaseError):
            create_app(settings)
    staging = Settings(env="staging", database_url=database_url, secret_key="k" * 40)
    assert not staging.should_auto_upgrade  # outside development only on purpose


@pytest.mark.parametrize("secret", [None, "", "changethis", "short-but-not-placeholder"])
def test_outside_development_a_real_secret_key_is_required(secret, monkeypatch):
    monkeypatch.setenv("FGTEXT_ENV", "production")
    if secret is None:
        monkeypatch.delenv("FGTEXT_SECRET_KEY", raising=False)
    else:
        monkeypatch.setenv("FGTEXT_SECRET_KEY", secret)
    with pytest.raises(FgTextError) as caught:
        load_settings()
    assert str(caught.value).startswith("FGTEXT_SECRET_KEY must be set")
    monkeypatch.setenv("FGTEXT_SECRET_KEY", "x" * 40)
    assert load_settings().secret_key.get_secret_value() == "x" * 40


def test_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("FGTEXT_DATABASE_URL", "postgresql://db.example/fgtext")
    monkeypatch.setenv("FGTEXT_MEDIA_ROOT", str(tmp_path))
    monkeypatch.setenv("FGTEXT_LOGIN_MAX_FAILURES", "3")
    settings = load_settings()
    assert settings.env == "development" and settings.is_development
    assert settings.database_url == "postgresql://db.example/fgtext"
    assert settings.media_root == tmp_path and settings.login_max_failures == 3
    monkeypatch.delenv("FGTEXT_DATABASE_URL")
    assert load_settings().database_url == "sqlite:///./fgtext.db"
    monkeypatch.setenv("FGTEXT_ENV", "prod")
    with pytest.raises(FgTextError, match=r"^FGTEXT_ENV: "):
        load_settings()


def test_openapi_documents_the_api_and_root_redirects_to_the_docs(app):
    client = TestClient(app)
    spec = client.get("/api/v1/openapi.json").json()
    assert spec["info"]["title"] == "FG-Text annotator"
    paths = spec["paths"]
    for path in ("/api/v1/auth/login", "/api/v1/projects/{project_id}/next",
                 "/api/v1/annotations/{annotation_id}", "/api/v1/projects/{project_id}/export",
                 "/media/{clip_id}"):  # fmt: skip
        assert path in paths, path
    assert "password_hash" not in str(spec["components"]["schemas"])
    root = client.get("/", follow_redirects=False)  # the UI: log in first
    assert root.status_code == 303 and root.headers["location"] == "/login"
    docs = client.get("/docs")
    assert docs.status_code == 200
    # the page's script and styles come from the app, not a CDN (annotators may be offline)
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))(?:\?[^"]*)?"', docs.text)
    assert len(assets) == 3 and all(a.startswith("/") for a in assets), assets
    for asset in assets:  # Swagger UI's bundle and styles, and the script file that starts it
        reply = client.get(asset)
        assert reply.status_code == 200, asset
        assert len(reply.content) > (300 if asset.endswith("docs.js") else 100_000), asset


def test_the_request_threads_and_the_connection_pool_follow_the_setting(settings, monkeypatch):
    from anyio import to_thread

    monkeypatch.setenv("FGTEXT_THREADS", "3")
    assert load_settings().threads == 3
    app = create_app(settings.model_copy(update={"threads": 3}))
    with TestClient(app) as client:
        tokens = client.portal.call(lambda: to_thread.current_default_thread_limiter().total_tokens)
        assert tokens == 3
        # a connection for every thread, and as many again for work outside them
        assert app.state.engine.pool.size() == 3
        assert client.get("/api/v1/openapi.json").status_code == 200
    with pytest.raises(FgTextError, match="FGTEXT_THREADS"):
        monkeypatch.setenv("FGTEXT_THREADS", "0")
        load_settings()
