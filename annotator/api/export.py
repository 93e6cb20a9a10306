"""Export download: the project's labels as a zipped `fgtext-dataset/1` (admins)."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from annotator import policies
from annotator.deps import CurrentUser, SessionDep
from fgtext import store

router = APIRouter(tags=["export"])


def _file_stem(name: str) -> str:
    return re.sub(r"[^\w.-]+", "-", name).strip("-.") or "project"


@router.get(
    "/projects/{project_id}/export",
    response_class=FileResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "The dataset, zipped"}},
)
def export_project(
    project_id: int,
    session: SessionDep,
    user: CurrentUser,
    include_unfinished: bool = Query(
        False, description="Also export clips without final labels (as unlabelled)."
    ),
    include_videos: bool = Query(
        False, description="Put the videos in the zip (else rows hold the server's paths)."
    ),
) -> FileResponse:
    project = policies.projects.require_admin(session, user, project_id)
    work = Path(tempfile.mkdtemp(prefix="fgtext-export-"))
    try:
        stem = _file_stem(project.name)
        dataset = work / stem
        store.export_project(
            session, project=project, out_dir=dataset, include_unfinished=include_unfinished,
            copy_videos=include_videos,
        )  # fmt: skip
        archive = shutil.make_archive(str(work / stem), "zip", root_dir=work, base_dir=stem)
        # every annotator's labels are in it: the exporter may no longer label this project
        store.record_labels_exported(session, user=user, project=project)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return FileResponse(
        archive,
        media_type="application/zip",
        filename=f"{stem}.zip",
        background=BackgroundTask(shutil.rmtree, work, ignore_errors=True),
    )
