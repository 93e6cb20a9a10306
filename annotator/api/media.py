"""`GET /media/{clip_id}`: a clip's video, streamed with HTTP Range, to those who may see it;
only files whose first bytes are a video's, with the sniffed Content-Type (`servable_video`)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from annotator import policies
from annotator.api.models import described
from annotator.deps import CurrentUser, SessionDep, SettingsDep
from annotator.media import servable_video, video_info

router = APIRouter(tags=["media"])


@router.head("/media/{clip_id}", include_in_schema=False)
@router.get(
    "/media/{clip_id}",
    response_class=FileResponse,
    responses=described(
        {
            206: "The requested byte range (Content-Range)",
            416: "The range lies beyond the end of the file",
        }
    ),
)
def clip_media(
    clip_id: int, session: SessionDep, settings: SettingsDep, user: CurrentUser
) -> FileResponse:
    """The clip's video file. `Range: bytes=START-END` answers 206 with that part (browsers
    seek with it); the file is sent in chunks, never read whole."""
    clip, project = policies.clips.require_access(session, user, clip_id)
    path, content_type = servable_video(settings.media_root, clip.video, base=project.media_root)
    # private: the response depends on who asks, so shared caches must not keep it
    return FileResponse(
        path, media_type=content_type, headers={"Cache-Control": "private, max-age=3600"}
    )


@router.get("/media/{clip_id}/info", tags=["media"])
def clip_media_info(
    clip_id: int, session: SessionDep, settings: SettingsDep, user: CurrentUser
) -> dict[str, float | int | None]:
    """The clip video's fps, frames, duration (s), width and height (for frame stepping)."""
    clip, project = policies.clips.require_access(session, user, clip_id)
    path, _ = servable_video(settings.media_root, clip.video, base=project.media_root)
    return video_info(path)
