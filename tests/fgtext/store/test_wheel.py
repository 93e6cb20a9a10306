"""An installed (non-editable) fgtext carries its migrations and upgrades a database."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_the_wheel_ships_the_migrations_and_upgrades_without_the_checkout(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path), str(ROOT)],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("fgtext-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as z:
        assert "fgtext/store/migrations/versions/0001_initial_store.py" in z.namelist()
        z.extractall(site)
    url = f"sqlite:///{tmp_path / 'installed.db'}"
    code = (
        "from fgtext.store.migrate import migrations_dir; print(migrations_dir()); "
        "from fgtext.cli import main; main(['db', 'upgrade', '--db', "
        f"{url!r}])"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    where, message = done.stdout.splitlines()[:2]
    assert where == str(site / "fgtext" / "store" / "migrations")  # not the checkout's
    assert message == f"Upgraded {url} from revision none to 0001"
