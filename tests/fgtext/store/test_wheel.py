"""An installed (non-editable) fgtext carries its migrations and upgrades a database."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

from fgtext.store import head_revision


def test_the_wheel_ships_the_migrations_and_upgrades_without_the_checkout(tmp_path, built_wheel):
    site = tmp_path / "site"
    with zipfile.ZipFile(built_wheel) as z:
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
    assert message == f"Upgraded {url} from revision none to {head_revision()}"
