"""How fast the browser UI's pages render next to the JSON they are built from.

Builds a project of N clips (SMG classes, k = 3) on a fresh SQLite file, has three annotators
label M clips each through the store (typical values of the clip's class, a few slips), then
times each page in-process (Starlette's TestClient, so no network) against the JSON API route
that carries the same data, R times each, and prints medians and the page / API ratio. The
agreement dashboard is also timed once cold (report computed) before the cached runs.

    .venv/bin/python bench/pages.py [--clips 2000 --labels 700 --repeat 21]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # runs from a checkout without installing the package

from fastapi.testclient import TestClient  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sqlmodel import Session  # noqa: E402

from annotator.app import create_app  # noqa: E402
from annotator.auth import hash_password  # noqa: E402
from annotator.settings import Settings  # noqa: E402
from bench.server_load import write_manifest  # noqa: E402
from fgtext import store  # noqa: E402
from fgtext.schema import DIMENSIONS, default_schema, load_class_list  # noqa: E402

PASSWORD = "bench-password-1"
console = Console()


def build(root: Path, n_clips: int, n_labels: int, seed: int = 0) -> tuple[Settings, int]:
    write_manifest(root / "bench", n_clips, seed)
    database_url = f"sqlite:///{root / 'bench.db'}"
    store.upgrade_database(database_url)
    settings = Settings(env="development", database_url=database_url, media_root=root)
    engine = store.create_db_engine(database_url)
    rng = random.Random(seed)
    typical = {c.id: c.attributes for c in load_class_list("smg", default_schema())}
    values = {d: list(default_schema().dimensions[d]) for d in DIMENSIONS}
    password_hash = hash_password(PASSWORD)
    with Session(engine) as session:
        admin = store.create_user(
            session, username="admin", password_hash=password_hash, role="admin"
        )
        project = store.create_project_from_dataset(
            session, name="bench", dataset_dir=root / "bench", annotators_per_clip=3,
            consensus_rule="majority", actor=admin, media_root=root,
        )  # fmt: skip
        reviewer = store.create_user(
            session, username="reviewer", password_hash=password_hash, role="reviewer"
        )
        store.add_member(session, project=project, user=reviewer, actor=admin)
        clips = store.list_clips(session, project=project, limit=n_clips)
        for a in range(3):
            user = store.create_user(
                session, username=f"ann{a}", password_hash=password_hash, role="annotator"
            )
            store.add_member(session, project=project, user=user, actor=admin)
            for clip in clips[:n_labels]:
                attributes = dict(rng.choice(typical[clip.label]))
                if rng.random() < 0.15:
                    slip = rng.choice(DIMENSIONS)
                    attributes[slip] = rng.choice(values[slip])
                store.submit_annotation(
                    session, clip=clip, user=user, attributes=attributes,
                    seconds_spent=rng.uniform(4, 20),
                )  # fmt: skip
        project_id = project.id
    engine.dispose()
    return settings, project_id


def client_for(app, username: str) -> TestClient:
    client = TestClient(app)
    reply = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    reply.raise_for_status()
    client.headers["X-CSRF-Token"] = reply.json()["csrf_token"]
    return client


def timed(client: TestClient, path: str, repeat: int) -> float:
    """Median seconds of `repeat` GETs (after one warm-up), each checked to answer 200."""
    client.get(path).raise_for_status()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        reply = client.get(path)
        times.append(time.perf_counter() - start)
        reply.raise_for_status()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=2000)
    parser.add_argument("--labels", type=int, default=700, help="clips each annotator labels")
    parser.add_argument("--repeat", type=int, default=21)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fgtext-pages-") as tmp:
        start = time.perf_counter()
        settings, pid = build(Path(tmp), args.clips, args.labels)
        console.print(
            f"{args.clips} clips, 3 annotators x {args.labels} labels on SQLite, "
            f"built in {time.perf_counter() - start:.1f} s; medians of {args.repeat} requests"
        )
        app = create_app(settings)
        annotator, reviewer, admin = (client_for(app, u) for u in ("ann0", "reviewer", "admin"))
        start = time.perf_counter()
        admin.get(f"/projects/{pid}/agreement").raise_for_status()
        cold = time.perf_counter() - start
        waiting = len(reviewer.get(f"/api/v1/projects/{pid}/review?limit=500").json())
        cases = [
            ("annotation page", annotator, f"/projects/{pid}/annotate", f"/api/v1/projects/{pid}"),
            ("my labels", annotator, f"/projects/{pid}/mine",
             f"/api/v1/projects/{pid}/annotations/mine"),
            ("agreement dashboard", admin, f"/projects/{pid}/agreement",
             f"/api/v1/projects/{pid}/agreement"),
            ("review queue", reviewer, f"/projects/{pid}/review",
             f"/api/v1/projects/{pid}/review?limit=200"),
            ("project admin", admin, f"/admin/projects/{pid}", f"/api/v1/projects/{pid}/progress"),
            ("home", annotator, "/", "/api/v1/projects"),
        ]  # fmt: skip
        table = Table("page", "page ms", "API ms (same data)", "page / API")
        for name, client, page, api in cases:
            page_s, api_s = timed(client, page, args.repeat), timed(client, api, args.repeat)
            table.add_row(
                name, f"{1000 * page_s:.1f}", f"{1000 * api_s:.1f}", f"{page_s / api_s:.2f}"
            )
        console.print(table)
        console.print(
            f"agreement dashboard, cold (report computed, 1000 bootstrap resamples): "
            f"{1000 * cold:.0f} ms; {waiting} clips in the review queue"
        )
        app.state.engine.dispose()


if __name__ == "__main__":
    main()
