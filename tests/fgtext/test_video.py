"""fgtext.video: the one H.264 encoder and the one probe."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from fgtext.errors import FgTextError
from fgtext.video import X264_PARAMS, H264Writer, VideoError, encode_h264, probe_video


def test_encode_then_probe_round_trips(tmp_path):
    frames = np.zeros((12, 48, 64, 3), np.uint8)
    frames[:, :, :32] = 200
    path = encode_h264(frames, tmp_path / "a.mp4", 12)
    info = probe_video(path)
    assert (info.frames, info.declared_frames, info.fps, info.rate) == (12, 12, 12.0, Fraction(12))
    assert (info.width, info.height) == (64, 48) and info.duration == pytest.approx(1.0)
    assert info.to_dict() == {"fps": 12.0, "frames": 12, "duration": info.duration,
                              "width": 64, "height": 48}  # fmt: skip
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.format.name) == ("h264", "yuv420p")
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    assert len(decoded) == 12 and abs(float(decoded[0][:, :32].mean()) - 200) < 4
    assert "bframes=0" in X264_PARAMS


def test_the_writer_refuses_odd_sizes_and_leaves_nothing_behind(tmp_path):
    with pytest.raises(FgTextError, match="even"):
        H264Writer(tmp_path / "odd.mp4", rate=10, width=63, height=48)
    with pytest.raises(FgTextError, match="no frames"):
        encode_h264([], tmp_path / "empty.mp4", 10)
    with pytest.raises(FgTextError, match="frame size changed"):
        encode_h264(
            [np.zeros((48, 64, 3), np.uint8), np.zeros((50, 64, 3), np.uint8)],
            tmp_path / "b.mp4", 10,
        )  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_probing_something_that_is_not_a_video_is_one_clear_error(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(VideoError, match="cannot open the video"):
        probe_video(text)
    with pytest.raises(VideoError, match="cannot open the video"):
        probe_video(tmp_path / "missing.mp4")
