"""The annotator's configuration: environment variables `FGTEXT_*` (pydantic-settings).

| variable | default | meaning |
| --- | --- | --- |
| `FGTEXT_ENV` | `development` | `development`, `staging` or `production` |
| `FGTEXT_DATABASE_URL` | `sqlite:///./fgtext.db` | SQLAlchemy URL (SQLite file or PostgreSQL) |
| `FGTEXT_MEDIA_ROOT` | `.` | the only folder clips are streamed from and datasets imported from |
| `FGTEXT_SECRET_KEY` | none | signs session cookies; required outside development |
| `FGTEXT_AUTO_UPGRADE` | SQLite in development | migrate an outdated database at start-up |
| `FGTEXT_SESSION_MAX_AGE` | `1209600` (14 days) | session cookie lifetime in seconds |
| `FGTEXT_LOGIN_MAX_FAILURES` | `5` | failed logins per username and client ... |
| `FGTEXT_LOGIN_WINDOW_SECONDS` | `60` | ... within this many seconds before 429 |
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fgtext.errors import FgTextError

DEFAULT_DATABASE_URL = "sqlite:///./fgtext.db"
# Values people leave in by accident (the template's, ours in docker-compose.yml, ...).
PLACEHOLDER_SECRETS = frozenset({"", "changethis", "change-me", "changeme", "secret", "dev"})
MIN_SECRET_LENGTH = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FGTEXT_", extra="ignore")

    env: Literal["development", "staging", "production"] = "development"
    database_url: str = DEFAULT_DATABASE_URL
    media_root: Path = Path(".")
    secret_key: SecretStr | None = None
    auto_upgrade: bool | None = None
    session_max_age: int = Field(default=14 * 24 * 3600, gt=0)
    login_max_failures: int = Field(default=5, ge=1)
    login_window_seconds: float = Field(default=60.0, gt=0)

    @model_validator(mode="after")
    def _secret_outside_development(self) -> Settings:
        secret = self.secret_key.get_secret_value() if self.secret_key else ""
        if self.env != "development" and (
            secret.strip().lower() in PLACEHOLDER_SECRETS or len(secret) < MIN_SECRET_LENGTH
        ):
            raise ValueError(
                f"FGTEXT_SECRET_KEY must be set to a random string of at least "
                f"{MIN_SECRET_LENGTH} characters when FGTEXT_ENV is {self.env!r} "
                "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        return self

    @property
    def is_development(self) -> bool:
        return self.env == "development"

    @property
    def session_secret(self) -> str:
        """The signing key. Development without one gets a per-process random key: sessions
        then end when the server restarts, which is harmless there."""
        if self.secret_key and self.secret_key.get_secret_value():
            return self.secret_key.get_secret_value()
        return _DEVELOPMENT_SECRET

    @property
    def should_auto_upgrade(self) -> bool:
        """Migrate at start-up? Explicit setting, else only the embedded SQLite in development:
        a shared PostgreSQL is upgraded on purpose, with `fgtext db upgrade`."""
        if self.auto_upgrade is not None:
            return self.auto_upgrade
        return self.is_development and self.database_url.startswith("sqlite")


_DEVELOPMENT_SECRET = secrets.token_urlsafe(48)


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment (and `overrides`); a bad value is one FgTextError line."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        where = f"FGTEXT_{field.upper()}: " if field else ""
        raise FgTextError(f"{where}{message}") from None
