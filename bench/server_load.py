"""Load on the annotation server: M simulated annotators labelling at once, per back end.

For each back end (a fresh SQLite file, then a fresh PostgreSQL database) this migrates the
database, creates a project of N unlabelled clips (SMG classes) with k annotators per clip and
M annotator accounts, starts `fgtext-annotator serve` on loopback in a subprocess, and drives
the M annotators concurrently (asyncio, one keep-alive connection each): each logs in, then
loops next-clip -> submit (values typical of the clip's class, sometimes a wrong one) until the
time is up or nothing is left. It prints requests/s, p50/p99 latency of next-clip and of submit, errors, and the
submitted versus stored annotation counts with the check that no clip got more than k.

    .venv/bin/python bench/server_load.py [--seconds 20 --annotators 50 --k 3 --clips 2000]
    .venv/bin/python bench/server_load.py --backends sqlite --seconds 5 --annotators 10
    .venv/bin/python bench/server_load.py --think 5   # annotators who look at each clip ~5 s
    .venv/bin/python bench/server_load.py --workers 1,2 --reference 0d05b83

`--workers 1,2` runs each back end once per number of server worker processes. `--reference REV`
first runs the same load, by this script, against git revision REV's code (checked out in a
temporary worktree: its store prepares the database, its server answers), so the table holds a
reference measured in the same run on the same machine, and ratio rows against it. "server CPU
ms / request" is the CPU time of the server's processes over the timed part divided by the
requests answered: unlike requests/s it does not depend on how much of the machine the
simulated annotators take ("client CPU ms / request" says how much that is).

PostgreSQL: the admin URL is FGTEXT_TEST_PG (default postgresql://postgres@127.0.0.1:5432/postgres,
as the tests use); a database `fgtext_bench_<random>` is created and dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

# The code under test: this checkout, or (--reference) another revision's checkout, driven by
# this same script so that both are measured alike.
ROOT = Path(os.environ.get("FGTEXT_BENCH_CODE") or Path(__file__).resolve().parents[1])
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # runs from a checkout without installing the package

import httptools  # noqa: E402
import httpx  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sqlalchemy import func  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from annotator.auth import hash_password  # noqa: E402
from fgtext import store  # noqa: E402
from fgtext.dataset import DatasetWriter  # noqa: E402
from fgtext.schema import DIMENSIONS, default_schema, load_class_list  # noqa: E402

PG_ADMIN = os.environ.get("FGTEXT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
PASSWORD = "bench-password-1"
console = Console()


# -- set-up ------------------------------------------------------------------------------------


def write_manifest(root: Path, n_clips: int, seed: int) -> Path:
    """An unlabelled dataset of `n_clips` clips of random SMG classes. The server streams no
    video in this benchmark, so every clip points at one (absent) file."""
    schema = default_schema()
    classes = load_class_list("smg", schema)
    rng = random.Random(seed)
    with DatasetWriter(root, name="bench", schema=schema, classes=classes) as writer:
        for i in range(n_clips):
            writer.add(
                {"clip_id": f"bench-{i:06d}", "video": "videos/clip.mp4",
                 "label": rng.randrange(len(classes)), "split": "train"}
            )  # fmt: skip
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def postgres_database() -> Iterator[str]:
    import psycopg

    name = f"fgtext_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        base, _, _ = PG_ADMIN.rpartition("/")
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def prepare(database_url: str, media_root: Path, args) -> tuple[int, list[str]]:
    """Migrate, create the project and the annotators; returns (project id, usernames)."""
    store.upgrade_database(database_url)
    engine = store.create_db_engine(database_url)
    password_hash = hash_password(PASSWORD)  # one hash for all: argon2 is slow on purpose
    usernames = [f"annotator{i:03d}" for i in range(args.annotators)]
    try:
        with Session(engine) as session:
            project = store.create_project_from_dataset(
                session, name="bench", dataset_dir=media_root / "bench",
                annotators_per_clip=args.k, consensus_rule="majority", actor=None,
                media_root=media_root,
            )  # fmt: skip
            for username in usernames:
                user = store.create_user(
                    session, username=username, password_hash=password_hash, role="annotator"
                )
                store.add_member(session, project=project, user=user, actor=None)
            return project.id, usernames
    finally:
        engine.dispose()


@contextmanager
def server(database_url: str, media_root: Path, workers: int = 1) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {
        **os.environ,
        "FGTEXT_ENV": "development",
        "FGTEXT_DATABASE_URL": database_url,
        "FGTEXT_MEDIA_ROOT": str(media_root),
        "FGTEXT_AUTO_UPGRADE": "false",
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-m", "annotator.cli", "serve", "--port", str(port),
               "--log-level", "warning"]  # fmt: skip
    if workers > 1:
        command += ["--workers", str(workers)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the server exited with status {process.returncode}")
            try:
                if httpx.get(f"{base}/api/v1/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server did not answer within 60 s")
            time.sleep(0.2)
        yield base, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- the simulated annotators -------------------------------------------------------------------


@dataclass
class Stats:
    latency: dict[str, list[float]] = field(
        default_factory=lambda: {"login": [], "next": [], "submit": []}
    )
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    submitted: int = 0
    finished_annotators: int = 0
    requests: int = 0
    server_cpu_seconds: float | None = None
    client_cpu_seconds: float | None = None


class HttpConnection:
    """One keep-alive HTTP/1.1 connection on asyncio streams, responses parsed by httptools
    (C). The simulated annotators share the machine's cores with the server, so the client
    spends as little CPU per request as it can: httpx took about 1 ms a request, which on a
    2-core machine was CPU the server did not get."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.headers = {"Host": f"{host}:{port}"}
        self.cookies: dict[str, str] = {}

    async def request(self, method: str, path: str, json_body: object = None) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        body = b"" if json_body is None else json.dumps(json_body).encode()
        headers = dict(self.headers)
        if body:
            headers["Content-Type"] = "application/json"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write(
            f"{method} {path} HTTP/1.1\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode() + body
        )
        try:
            return await self._response()
        except (OSError, EOFError, httptools.HttpParserError):
            await self.close()  # reconnect on the next request
            raise

    async def _response(self) -> tuple[int, bytes]:
        chunks, done, cookies = [], [], []

        class Callbacks:
            def on_header(self, name: bytes, value: bytes) -> None:
                if name.lower() == b"set-cookie":
                    cookies.append(value.decode())

            def on_body(self, data: bytes) -> None:
                chunks.append(data)

            def on_message_complete(self) -> None:
                done.append(True)

        parser = httptools.HttpResponseParser(Callbacks())
        while not done:
            data = await self.reader.read(65536)
            if not data:
                raise EOFError("the server closed the connection")
            parser.feed_data(data)
        for cookie in cookies:
            name, _, value = cookie.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value.strip()
        if not parser.should_keep_alive():
            await self.close()
        return parser.get_status_code(), b"".join(chunks)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


class Annotator:
    def __init__(self, base: str, username: str, project_id: int, seed: int, stats: Stats):
        host, _, port = base.removeprefix("http://").partition(":")
        self.client = HttpConnection(host, int(port))
        self.username, self.project_id, self.stats = username, project_id, stats
        self.rng = random.Random(seed)

    async def request(
        self, kind: str, method: str, url: str, json_body: object = None
    ) -> tuple[int, bytes] | None:
        started = time.perf_counter()
        try:
            reply = await self.client.request(method, url, json_body)
        except (OSError, EOFError, httptools.HttpParserError) as exc:
            self.stats.errors[f"{kind}: {type(exc).__name__}"] += 1
            return None
        self.stats.latency[kind].append(time.perf_counter() - started)
        self.stats.requests += 1
        self.stats.statuses[f"{kind} {reply[0]}"] += 1
        return reply

    def values(self, label: int, typical: dict[int, list[dict[str, str]]], vocab) -> dict:
        """One of the class's typical combinations; ~10% of values replaced by another."""
        chosen = dict(self.rng.choice(typical[label]))
        for d in DIMENSIONS:
            if self.rng.random() < 0.1:
                chosen[d] = self.rng.choice(vocab[d])
        return chosen

    async def login(self) -> bool:
        reply = await self.request(
            "login", "POST", "/api/v1/auth/login",
            {"username": self.username, "password": PASSWORD},
        )  # fmt: skip
        if reply is None or reply[0] != 200:
            self.stats.errors["login failed"] += 1
            return False
        self.client.headers["X-CSRF-Token"] = json.loads(reply[1])["csrf_token"]
        return True

    async def label(self, deadline: float, typical, vocab, think: float) -> None:
        while time.monotonic() < deadline:
            reply = await self.request("next", "POST", f"/api/v1/projects/{self.project_id}/next")
            if reply is None:
                continue
            status, body = reply
            if status == 204:
                self.stats.finished_annotators += 1
                return
            if status != 200:
                self.stats.errors[f"next {status}"] += 1
                continue
            clip = json.loads(body)
            labels = {
                "attributes": self.values(clip["label"], typical, vocab),
                "seconds_spent": round(self.rng.uniform(3, 20), 1),
            }
            reply = await self.request(
                "submit", "POST", f"/api/v1/clips/{clip['id']}/annotations", labels
            )
            if reply is not None and reply[0] == 201:
                self.stats.submitted += 1
            elif reply is not None:
                self.stats.errors[f"submit {reply[0]}"] += 1
            if think:  # watching the clip and choosing values, on average `think` seconds
                await asyncio.sleep(self.rng.uniform(0, 2 * think))


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) of process `pid` and all its descendants (uvicorn's workers),
    from /proc; None where there is no /proc. It counts the server's work alone, whatever else
    runs on the machine (the simulated annotators included)."""
    proc = Path("/proc")
    if not (proc / str(pid) / "stat").exists():
        return None
    stats: dict[int, tuple[int, float]] = {}
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # the process ended meanwhile
                continue
            stats[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    family, total = {pid}, 0.0
    for _ in range(3):  # uvicorn's supervisor -> workers (-> nothing deeper)
        family |= {p for p, (parent, _) in stats.items() if parent in family}
    total = sum(stats[p][1] for p in family if p in stats)
    return total / os.sysconf("SC_CLK_TCK")


async def drive(
    base: str, project_id: int, usernames: list[str], args, server_pid: int
) -> tuple[Stats, float]:
    schema = default_schema()
    vocab = {d: list(schema.values(d)) for d in DIMENSIONS}
    typical = {c.id: [dict(a) for a in c.attributes] for c in load_class_list("smg", schema)}
    stats = Stats()
    annotators = [
        Annotator(base, name, project_id, args.seed + i, stats) for i, name in enumerate(usernames)
    ]
    try:
        # Everyone logs in at once (argon2 is slow on purpose), then the timed labelling.
        logged_in = await asyncio.gather(*(a.login() for a in annotators))
        working = [a for a, ok in zip(annotators, logged_in, strict=True) if ok]
        stats.requests = 0
        cpu_before = cpu_seconds(server_pid)
        client_before = time.process_time()
        started = time.monotonic()
        deadline = started + args.seconds
        await asyncio.gather(*(a.label(deadline, typical, vocab, args.think) for a in working))
        stats.client_cpu_seconds = time.process_time() - client_before
        cpu_after = cpu_seconds(server_pid)
        if cpu_before is not None and cpu_after is not None:
            stats.server_cpu_seconds = cpu_after - cpu_before
        return stats, time.monotonic() - started
    finally:
        await asyncio.gather(*(a.client.close() for a in annotators))


def stored_counts(database_url: str, project_id: int) -> tuple[int, int, int]:
    """(annotations stored, largest number of annotations on one clip, clips labelled)."""
    engine = store.create_db_engine(database_url)
    try:
        with Session(engine) as session:
            per_clip = session.exec(
                select(store.Annotation.clip_id, func.count())
                .join(store.Clip, store.Clip.id == store.Annotation.clip_id)
                .where(store.Clip.project_id == project_id)
                .group_by(store.Annotation.clip_id)
            ).all()
    finally:
        engine.dispose()
    counts = [n for _, n in per_clip]
    return sum(counts), max(counts, default=0), len(counts)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def run_backend(name: str, database_url: str, media_root: Path, args, workers: int = 1) -> dict:
    console.print(
        f"[bold]{name}[/], {workers} worker(s): preparing {args.clips} clips, "
        f"{args.annotators} annotators"
    )
    project_id, usernames = prepare(database_url, media_root, args)
    with server(database_url, media_root, workers) as (base, pid):
        stats, elapsed = asyncio.run(drive(base, project_id, usernames, args, pid))
    stored, max_per_clip, clips_labelled = stored_counts(database_url, project_id)
    ms = {
        f"{kind}_{q}_ms": round(1000 * v, 1) if (v := percentile(lat, q)) is not None else None
        for kind, lat in stats.latency.items()
        for q in (50, 99)
    }
    return {
        "backend": name,
        "workers": workers,
        "seconds": round(elapsed, 1),
        "requests": stats.requests,
        "requests_per_s": round(stats.requests / elapsed, 1),
        "server_cpu_ms_per_request": (
            round(1000 * stats.server_cpu_seconds / stats.requests, 2)
            if stats.server_cpu_seconds is not None and stats.requests
            else None
        ),
        "client_cpu_ms_per_request": (
            round(1000 * stats.client_cpu_seconds / stats.requests, 2)
            if stats.client_cpu_seconds is not None and stats.requests
            else None
        ),
        **ms,
        "errors": sum(stats.errors.values()),
        "error_kinds": dict(stats.errors),
        "submitted": stats.submitted,
        "stored": stored,
        "clips_labelled": clips_labelled,
        "max_annotations_per_clip": max_per_clip,
        "k": args.k,
        "ok": stored == stats.submitted and max_per_clip <= args.k,
        "annotators_out_of_work": stats.finished_annotators,
    }


def print_results(results: list[dict], args) -> None:
    table = Table(
        title=f"{args.annotators} annotators, k={args.k}, {args.clips} clips, "
        f"{args.seconds:g} s per back end, think {args.think:g} s"
    )
    table.add_column("")
    for r in results:
        table.add_column(column_name(r), justify="right")
    rows = [
        ("requests/s", "requests_per_s"), ("requests", "requests"),
        ("server CPU ms / request", "server_cpu_ms_per_request"),
        ("client CPU ms / request", "client_cpu_ms_per_request"),
        ("next-clip p50 ms", "next_50_ms"), ("next-clip p99 ms", "next_99_ms"),
        ("submit p50 ms", "submit_50_ms"), ("submit p99 ms", "submit_99_ms"),
        ("login p50 ms", "login_50_ms"), ("errors", "errors"),
        ("annotations submitted", "submitted"), ("annotations stored", "stored"),
        ("clips labelled", "clips_labelled"),
        ("max annotations per clip", "max_annotations_per_clip"),
        ("stored = submitted, max <= k", "ok"),
    ]  # fmt: skip
    for label, key in rows:
        table.add_row(label, *(str(r.get(key, "-")) for r in results))
    references = {r["backend"]: r for r in results if r.get("reference")}
    if references:
        table.add_row(
            "requests/s vs reference", *(ratio(r, references, "requests_per_s") for r in results)
        )
        table.add_row(
            "server CPU / request vs reference",
            *(ratio(r, references, "server_cpu_ms_per_request") for r in results),
        )
    console.print(table)
    for r in results:
        if r["error_kinds"]:
            console.print(f"{r['backend']} errors: {r['error_kinds']}")


def column_name(result: dict) -> str:
    if result.get("reference"):
        return f"{result['backend']} {result['reference']}"
    return f"{result['backend']} {result.get('workers', 1)}w"


def ratio(result: dict, references: dict[str, dict], key: str) -> str:
    reference = references.get(result["backend"], {})
    if not reference.get(key) or result.get(key) is None:
        return "-"
    return f"{result[key] / reference[key]:.2f}x"


def run_reference(revision: str, args) -> list[dict]:
    """The same load, by this script, on git revision `revision`'s code (its store prepares
    the database, its server answers), one worker."""
    with tempfile.TemporaryDirectory(prefix="fgtext-bench-ref-") as tmp:
        tree, out = Path(tmp) / "tree", Path(tmp) / "reference.json"
        git = ["git", "-C", str(ROOT)]
        subprocess.run([*git, "worktree", "add", "--detach", "-q", str(tree), revision], check=True)
        try:
            command = [
                sys.executable, str(Path(__file__).resolve()),
                "--seconds", str(args.seconds), "--annotators", str(args.annotators),
                "--k", str(args.k), "--clips", str(args.clips), "--backends", args.backends,
                "--think", str(args.think), "--seed", str(args.seed), "--json", str(out),
            ]  # fmt: skip
            env = {**os.environ, "PYTHONPATH": str(tree), "FGTEXT_BENCH_CODE": str(tree)}
            subprocess.run(command, check=True, env=env, cwd=tree)
            results = json.loads(out.read_text())
        finally:
            subprocess.run([*git, "worktree", "remove", "--force", str(tree)], check=False)
    for r in results:
        r["reference"] = revision
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="labelling time per back end")
    parser.add_argument("--annotators", type=int, default=50)
    parser.add_argument("--k", type=int, default=3, help="annotators per clip")
    parser.add_argument("--clips", type=int, default=2000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--think", type=float, default=0.0,
        help="mean seconds an annotator spends per clip (0: back to back, a stress test)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--workers", default="1", help="server worker processes; a list (1,2) runs each"
    )
    parser.add_argument(
        "--reference", metavar="REV",
        help="also measure git revision REV's server (one worker) first, for a ratio",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args()
    worker_counts = [int(w) for w in args.workers.split(",")]
    results = run_reference(args.reference, args) if args.reference else []
    with tempfile.TemporaryDirectory(prefix="fgtext-bench-") as tmp:
        for backend in args.backends.split(","):
            for workers in worker_counts:
                media_root = Path(tmp) / f"{backend}-{workers}"
                write_manifest(media_root / "bench", args.clips, args.seed)
                if backend == "sqlite":
                    url = f"sqlite:///{media_root / 'fgtext.db'}"
                    results.append(run_backend("SQLite", url, media_root, args, workers))
                elif backend == "postgresql":
                    with postgres_database() as url:
                        results.append(run_backend("PostgreSQL", url, media_root, args, workers))
                else:
                    raise SystemExit(
                        f"--backends: unknown back end {backend!r} (sqlite, postgresql)"
                    )
    print_results(results, args)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if not all(r["ok"] for r in results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
