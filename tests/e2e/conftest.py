"""End-to-end fixtures: the annotator served by uvicorn on a free local port (embedded
SQLite, a synthetic dataset, demo-like accounts) and Debian's headless Chromium driven by
Playwright. No browser is downloaded: `make test` installs the `chromium` package (see the
Makefile's `browser` target); FGTEXT_CHROMIUM points elsewhere.

Screenshots go to build/screenshots/ (FGTEXT_SCREENSHOTS overrides), as the README says.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from sqlmodel import Session

from annotator.app import create_app
from annotator.auth import hash_password
from annotator.settings import Settings
from fgtext import store
from fgtext.synth import SynthConfig, synthesize

PASSWORD = "e2e password 1"
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("FGTEXT_SCREENSHOTS", REPO / "build" / "screenshots"))
CHROMIUM = os.environ.get("FGTEXT_CHROMIUM", "/usr/bin/chromium")
# Flags for a closed network, as root in a container (see the project's machine notes).
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--disable-dev-shm-usage",
]  # fmt: skip


@dataclass
class LiveServer:
    url: str
    engine: object
    project_id: int
    media_root: Path

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)


@pytest.fixture(scope="session")
def e2e_dataset(tmp_path_factory) -> Path:
    """Eight 2 s clips (2 classes x 4) at a size that looks like a clip in screenshots."""
    out = tmp_path_factory.mktemp("e2e") / "synthetic"
    config = SynthConfig(
        classes=2, clips_per_class=4, width=192, height=144, fps=25, seconds=2.0, annotators=0
    )
    return synthesize(out, config, workers=1)


@pytest.fixture(scope="session")
def e2e_password_hash() -> str:
    return hash_password(PASSWORD)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_server(tmp_path, e2e_dataset, e2e_password_hash) -> Iterator[LiveServer]:
    """A fresh database with admin `ada`, reviewer `rita`, annotators `alice` and `bob`, and a
    k=2 majority project of the dataset; served on 127.0.0.1 in a background thread."""
    media_root = tmp_path / "media"
    shutil.copytree(e2e_dataset, media_root / "synthetic")
    database_url = f"sqlite:///{tmp_path / 'e2e.db'}"
    store.upgrade_database(database_url)
    settings = Settings(env="development", database_url=database_url, media_root=media_root)
    app = create_app(settings)
    with Session(app.state.engine) as session:
        users = {
            name: store.create_user(
                session, username=name, password_hash=e2e_password_hash, role=role
            )
            for name, role in (
                ("ada", "admin"), ("rita", "reviewer"), ("alice", "annotator"), ("bob", "annotator")
            )
        }  # fmt: skip
        project = store.create_project_from_dataset(
            session, name="Gestures", dataset_dir=media_root / "synthetic",
            annotators_per_clip=2, consensus_rule="majority", actor=users["ada"],
            media_root=media_root,
        )  # fmt: skip
        for name in ("alice", "bob", "rita"):
            store.add_member(session, project=project, user=users[name], actor=users["ada"])
        project_id = project.id
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the annotator did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", app.state.engine, project_id, media_root)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"no Chromium at {CHROMIUM}: `make test` installs Debian's chromium package "
            "(make browser); or set FGTEXT_CHROMIUM to a Chromium binary"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, live_server):
    """new_page(user=None, width=1440, height=900): a page in a fresh browser context, logged
    in through the login form when `user` is given. Page errors fail the test, and so does
    anything the Content-Security-Policy blocks (Chromium reports it on the console)."""
    contexts, errors, blocked = [], [], []

    def make(user: str | None = None, *, width: int = 1440, height: int = 900):
        context = browser.new_context(
            viewport={"width": width, "height": height}, accept_downloads=True
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on(
            "console",
            lambda msg: "Content Security Policy" in msg.text and blocked.append(msg.text),
        )
        if user is not None:
            login(page, live_server.url, user)
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
    assert not blocked, f"the Content-Security-Policy blocked: {blocked}"


def login(page, url: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{url}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")


def screenshot(target, name: str, *, full_page: bool = False) -> Path:
    """A page (`full_page`: all of it) or a locator's element as SCREENSHOTS/name.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    target.screenshot(path=str(path), **({"full_page": True} if full_page else {}))
    return path
