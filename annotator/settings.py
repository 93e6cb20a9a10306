"""The annotator's configuration: environment variables `FGTEXT_*` (pydantic-settings).

| variable | default | meaning |
| --- | --- | --- |
| `FGTEXT_ENV` | `development` | `development`, `staging` or `production` |
| `FGTEXT_DATABASE_URL` | `sqlite:///./fgtext.db` | SQLAlchemy URL (SQLite file or PostgreSQL) |
| `FGTEXT_MEDIA_ROOT` | `.` | the only folder clips are streamed from and datasets imported from |
| `FGTEXT_SECRET_KEY` | none | required outside development (a real, random value) |
| `FGTEXT_AUTO_UPGRADE` | SQLite in development | migrate an outdated database at start-up |
| `FGTEXT_SESSION_MAX_AGE` | `1209600` (14 days) | a session ends this many seconds after login |
| `FGTEXT_SESSION_IDLE_SECONDS` | `28800` (8 h) | ... or after this many seconds without a request |
| `FGTEXT_LOGIN_MAX_FAILURES` | `5` | failed logins per username (from any client) ... |
| `FGTEXT_LOGIN_MAX_FAILURES_PER_CLIENT` | `20` | ... and per client (for any usernames) ... |
| `FGTEXT_LOGIN_WINDOW_SECONDS` | `60` | ... within this many seconds before 429 |
| `FGTEXT_TRUSTED_ORIGINS` | none | comma-separated origins (`https://host`) a login may come from besides the request's own Host |
| `FGTEXT_THREADS` | `4` | threads per server process that run requests' database work (and its connection pool) |
"""

from __future__ import annotations

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
    session_idle_seconds: int = Field(default=8 * 3600, gt=0)
    login_max_failures: int = Field(default=5, ge=1)
    login_max_failures_per_client: int = Field(default=20, ge=1)
    login_window_seconds: float = Field(default=60.0, gt=0)
    trusted_origins: str = ""
    # Every request's database work runs in one of these threads. A few are enough: SQLite has
    # one writer at a time, PostgreSQL one per project (its advisory lock), and each thread
    # that waits for the GIL stretches the time another holds the lock. Measured with
    # bench/server_load.py (50 annotators): from 40 threads (anyio's default) to 4, the same
    # requests/s with next-clip p99 330 -> ~210 ms on SQLite, and on PostgreSQL with two
    # workers 4 threads gave 244 requests/s where 8 gave 153 (README, "Several processes").
    threads: int = Field(default=4, ge=1, le=256)

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
    def trusted_origin_set(self) -> frozenset[str]:
        """FGTEXT_TRUSTED_ORIGINS as origins (`scheme://host[:port]`, lower case)."""
        return frozenset(
            o.strip().rstrip("/").lower() for o in self.trusted_origins.split(",") if o.strip()
        )

    @property
    def should_auto_upgrade(self) -> bool:
        """Migrate at start-up? Explicit setting, else only the embedded SQLite in development:
        a shared PostgreSQL is upgraded on purpose, with `fgtext db upgrade`."""
        if self.auto_upgrade is not None:
            return self.auto_upgrade
        return self.is_development and self.database_url.startswith("sqlite")


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
