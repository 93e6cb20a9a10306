"""SQLite's writers queue on locks that wake them at once, across threads and processes."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

from fgtext.store.db import SqliteWriters


def test_a_writer_of_another_process_waits_and_starts_as_soon_as_the_lock_is_free(tmp_path):
    database = str(tmp_path / "fgtext.db")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from fgtext.store.db import SqliteWriters\n"
         f"w = SqliteWriters({database!r})\n"
         "with w:\n    print('held', flush=True); time.sleep(0.5)\n"
         "print('released', time.time(), flush=True)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "held"
    writers = SqliteWriters(database)
    started = time.time()
    with writers:
        got_it = time.time()
    released = float(holder.stdout.readline().split()[1])
    holder.wait(timeout=10)
    assert got_it - started >= 0.3  # it did wait for the other process
    # ... and took the lock at once (SQLite's busy handler sleeps up to 100 ms a try)
    assert got_it - released < 0.05


def test_threads_of_one_process_take_turns_and_a_thread_may_nest(tmp_path):
    writers = SqliteWriters(str(tmp_path / "fgtext.db"))
    inside, most = [0], [0]

    def write() -> None:
        for _ in range(50):
            with writers, writers:  # nested: the same thread re-enters
                inside[0] += 1
                most[0] = max(most[0], inside[0])
                time.sleep(0.0005)
                inside[0] -= 1

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most[0] == 1
