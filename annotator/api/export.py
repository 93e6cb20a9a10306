"""Export download: the project's labels as a zipped `fgtext-dataset/2` (admins).

With videos, each copied file passes the rule `/media` serves by (`servable_video`: inside the
media root, resolved, a regular file with a video's first bytes); a clip whose video does not
stops the export with a 422 naming the clip, and nothing is written."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from annotator import policies
from annotator.deps import CurrentUser, Id, SessionDep, SettingsDep
from annotator.media import MediaNotServable, servable_video
from annotator.settings import Settings
from fgtext import store
from fgtext.store import Clip, InvalidInputError, Project

router = APIRouter(tags=["export"])


def _file_stem(name: str) -> str:
    return re.sub(r"[^\w.-]+", "-", name).strip("-.") or "project"


def _servable_video_file(settings: Settings) -> Callable[[Project, Clip], Path]:
    """The export's `video_file`: what `/media` would serve for the clip, else a 422."""

    def video_file(project: Project, clip: Clip) -> Path:
        try:
            path, _ = servable_video(settings.media_root, clip.video, base=project.media_root)
        except MediaNotServable:  # the message names the clip, never the server's paths
            raise InvalidInputError(
                f"clip {clip.clip_id}: its video is not a video file inside the media root, "
                "so it cannot be exported; export without videos or fix the clip's file"
            ) from None
        return path

    return video_file


@router.get(
    "/projects/{project_id}/export",
    response_class=FileResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "The dataset, zipped"}},
)
def export_project(
    project_id: Id,
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
    include_unfinished: bool = Query(
        False, description="Also export clips without final labels (as unlabelled)."
    ),
    include_videos: bool = Query(
        False,
        description="Put the videos in the zip (else rows hold the server's paths); a clip "
        "whose video /media would not serve makes the export fail (422, naming the clip).",
    ),
) -> FileResponse:
    project = policies.projects.require_admin(session, user, project_id)
    work = Path(tempfile.mkdtemp(prefix="fgtext-export-"))
    try:
        stem = _file_stem(project.name)
        dataset = work / stem
        store.export_project(
            session, project=project, out_dir=dataset, include_unfinished=include_unfinished,
            copy_videos=include_videos, video_file=_servable_video_file(settings),
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
