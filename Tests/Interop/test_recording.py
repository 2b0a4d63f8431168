"""Recording (RECORD_ENABLED): real publishers for 10+ s, then the files checked with Debian's
ffmpeg/ffprobe: clean decode, keyframe first, frame count and duration against what was sent,
and the sidecar's audio/video start times aligned."""

import asyncio
import json
import os
import time
import urllib.request

import pytest

from harness import close_all, eventually, room_name, run, start_publisher
from livesfu_server import ARTIFACTS, ServerUnderTest
from harness import node_slug
from recordings import check_audio, check_video, files_of_room, need_ffmpeg

PUBLISH_SECONDS = 10


@pytest.fixture
def recording_sfu(request):
    """A server that records into its own RECORD_DIR under test-artifacts."""
    name = node_slug(request.node.name)
    record_dir = os.path.join(ARTIFACTS, f"records-{name}")
    os.makedirs(record_dir, exist_ok=True)
    for f in os.listdir(record_dir):
        os.unlink(os.path.join(record_dir, f))
    server = ServerUnderTest(name, env={"RECORD_ENABLED": "true", "RECORD_DIR": record_dir})
    server.record_dir = record_dir
    server.start()
    yield server
    server.stop()


def check_api_download(server, room: str, files: list[dict]) -> None:
    """/api/records lists the room's files as the sidecars do, and /api/records/{name} serves
    each one whole and in a byte range, equal to the file in RECORD_DIR."""
    with urllib.request.urlopen(f"{server.base_url}/api/records?room={room}") as resp:
        listed = {r["name"]: r for r in json.load(resp)["records"]}
    assert set(listed) == {f["name"] for f in files}, (listed, files)
    for f in files:
        assert listed[f["name"]]["state"] == f["state"] and listed[f["name"]]["bytes"] == f["bytes"], (listed, f)
        with open(os.path.join(server.record_dir, f["name"]), "rb") as disk:
            content = disk.read()
        url = f"{server.base_url}/api/records/{f['name']}"
        with urllib.request.urlopen(url) as resp:
            assert resp.status == 200 and resp.headers["Accept-Ranges"] == "bytes"
            assert resp.read() == content, f["name"]
        start, end = len(content) // 3, len(content) // 3 + 4096
        req = urllib.request.Request(url, headers={"Range": f"bytes={start}-{end}"})
        with urllib.request.urlopen(req) as resp:
            assert resp.status == 206, resp.status
            assert resp.headers["Content-Range"] == f"bytes {start}-{min(end, len(content) - 1)}/{len(content)}"
            assert resp.read() == content[start:end + 1], f["name"]


async def finalised_files(server, room: str, count: int, timeout: float = 15.0) -> list[dict]:
    def done():
        files = files_of_room(server.record_dir, room)
        return len(files) >= count and all(f["state"] != "recording" for f in files)
    await eventually(done, timeout, f"{count} finalised recordings of {room}")
    return files_of_room(server.record_dir, room)


def test_aiortc_vp8_opus_recording_decodes_and_matches_what_was_sent(recording_sfu, request):
    need_ffmpeg()
    room = room_name(request)

    async def body():
        pub = None
        try:
            pub = await start_publisher(recording_sfu.base_url, room)
            started = time.monotonic()
            await asyncio.sleep(PUBLISH_SECONDS)
            video_track = next(s.track for s in pub.pc.getSenders() if s.track and s.track.kind == "video")
            sent_frames = video_track.count
            await pub.stop()
            lasted = time.monotonic() - started
            pub = None
            files = await finalised_files(recording_sfu, room, 2)
            by_kind = {f["kind"]: f for f in files}
            assert set(by_kind) == {"audio", "video"}, files
            for f in files:
                assert f["state"] == "finalised", f
                assert f["name"].startswith(f"{room}_") and f["name"].endswith((".ogg", ".ivf")), f
            v, a = by_kind["video"], by_kind["audio"]
            assert v["codec"] == "vp8" and a["codec"] == "opus", files
            frames = check_video(os.path.join(recording_sfu.record_dir, v["name"]), sent_frames)
            check_audio(os.path.join(recording_sfu.record_dir, a["name"]), lasted)
            assert v["frames"] == frames, (v, frames)
            # Aligned through the publisher's sender reports.
            assert v["firstFrameUnixMicros"] and a["firstFrameUnixMicros"], files
            assert abs(v["firstFrameUnixMicros"] - a["firstFrameUnixMicros"]) < 100_000, files
            check_api_download(recording_sfu, room, files)
        finally:
            await close_all(pub)

    run(body(), 90)
