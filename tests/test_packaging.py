"""The wheel carries everything fgtext needs at run time (a non-editable install works)."""

import configparser
import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_package_data_and_works_without_the_source_tree(tmp_path, built_wheel):
    with zipfile.ZipFile(built_wheel) as z:
        names = set(z.namelist())
        site = tmp_path / "site"
        z.extractall(site)
    for data in ("micro-gesture.json", "classes-smg.json", "classes-imigue.json"):
        assert f"fgtext/schemas/{data}" in names
    assert "training/ds_configs/zero2.json" in names  # `fgsgl-train train --deepspeed zero2`
    # the browser UI's templates and assets (no build step: they ship as they are)
    for ui in ("templates/base.html", "templates/annotate.html", "templates/agreement.html",
               "static/app.css", "static/player.js", "static/annotate.js"):  # fmt: skip
        assert f"annotator/{ui}" in names, ui
    # the checkout keeps the CSS and JS in the top-level static/ (the design's layout); the
    # wheel carries every file of it as annotator/static/ (as migrations/ ships in fgtext.store)
    assert not (ROOT / "annotator" / "static").exists()
    shipped = {
        n.removeprefix("annotator/static/") for n in names if n.startswith("annotator/static/")
    }
    assert shipped == {p.name for p in (ROOT / "static").iterdir() if p.is_file()}
    (dist_info,) = site.glob("fgtext-*.dist-info")
    scripts = configparser.ConfigParser()
    scripts.read(dist_info / "entry_points.txt")
    assert dict(scripts["console_scripts"]) == {
        "fgtext": "fgtext.cli:main",
        "fgtext-annotator": "annotator.cli:main",
        "fgsgl-train": "training.cli:main",
    }
    code = (
        "import fgtext.schema as s; print(s.__file__); "
        "print(len(s.load_class_list('smg')), len(s.load_class_list('imigue')), "
        "len(s.default_schema().values('motion_type')))"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, check=True)  # fmt: skip
    where, counts = done.stdout.split("\n")[:2]
    assert where.startswith(str(site))  # imported from the wheel, not the checkout
    assert counts == "17 32 26"
