"""Recording (RECORD_ENABLED): real publishers for 10+ s, then the files checked with Debian's
ffmpeg/ffprobe: clean decode, keyframe first, frame count and duration against what was sent,
and the sidecar's audio/video start times aligned."""

import asyncio
import json
import os
import shutil
import subprocess
import time
import urllib.request

import pytest

from harness import (OK_DELETE, close_all, eventually, node_slug, open_publish_page, page_url, room_name, run, save_json,
                     start_publisher, stop_page)
from livesfu_server import ARTIFACTS, ServerUnderTest
from lossy_gateway import Impairment, LossyGateway
from whep_client import WhepViewer
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


def assert_aligned(v: dict, a: dict) -> None:
    """The sidecar's wall-clock starts (from the publisher's sender reports) place the two
    files right: Chromium's camera often starts a few hundred ms after its microphone, so the
    starts themselves may differ; but both tracks end together (one DELETE), so the later
    start must be matched by a shorter file, within 100 ms."""
    start_gap_ms = (v["firstFrameUnixMicros"] - a["firstFrameUnixMicros"]) / 1000
    duration_gap_ms = a["durationMillis"] - v["durationMillis"]
    assert abs(start_gap_ms - duration_gap_ms) < 100, (start_gap_ms, duration_gap_ms, v, a)


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


FRAMES_SENT_JS = """(async () => {
  const r = await window.livesfuSession.pc.getStats();
  const o = { video: 0, audio: 0, codec: null };
  const codecs = {};
  r.forEach((x) => { if (x.type === 'codec') codecs[x.id] = x.mimeType; });
  r.forEach((x) => { if (x.type === 'outbound-rtp') {
    if (x.kind === 'video') { o.video += x.framesSent || 0; o.codec = codecs[x.codecId] || o.codec; }
    else o.audio += x.packetsSent || 0; } });
  return o;
})()"""


async def publish_page_for(browser, sfu, room: str, seconds: float, **query) -> tuple[dict, float]:
    """A Chromium publish page for `seconds`, stopped (DELETE); returns its last send figures
    and how long it published."""
    page = None
    try:
        try:
            page = await open_publish_page(browser, sfu, room, what=f"{query} publisher connected", **query)
        except Exception as exc:  # noqa: BLE001
            if "not available" in str(exc):
                pytest.skip(f"this Chromium does not encode {query}: {exc}")
            raise
        started = time.monotonic()
        await asyncio.sleep(seconds)
        sent = await page.evaluate(FRAMES_SENT_JS)
        lasted = time.monotonic() - started
        assert await stop_page(page) in OK_DELETE
        page = None
        return sent, lasted
    finally:
        await close_all(page)


@pytest.mark.parametrize("codec", ["vp8", "vp9", "h264", "av1"])
def test_chromium_recording_decodes_per_codec(recording_sfu, browser, request, codec):
    need_ffmpeg()
    room = room_name(request)

    async def body():
        sent, lasted = await publish_page_for(browser, recording_sfu, room, PUBLISH_SECONDS, codec=codec)
        if codec == "av1" and (sent["codec"] or "").lower() != "video/av1":
            pytest.skip(f"this Chromium did not send AV1: {sent}")
        assert (sent["codec"] or "").lower() == f"video/{codec}", sent
        files = await finalised_files(recording_sfu, room, 2)
        by_kind = {f["kind"]: f for f in files}
        v, a = by_kind["video"], by_kind["audio"]
        save_json(f"{node_slug(request.node.name)}.json", {"sent": sent, "files": files})
        assert v["codec"] == codec and v["state"] == "finalised" and a["state"] == "finalised", files
        # The frames sent after the recording started (connect): all of them, within 5 %.
        check_video(os.path.join(recording_sfu.record_dir, v["name"]), sent["video"])
        check_audio(os.path.join(recording_sfu.record_dir, a["name"]), lasted)
        assert_aligned(v, a)

    run(body(), 120)


def test_chromium_recording_with_3pct_publisher_loss_still_decodes(recording_sfu, browser, request):
    """Loss on the publisher's path: frames wait for their NACK repairs (or are skipped with
    what depends on them, and a keyframe asked for); the files still decode cleanly."""
    need_ffmpeg()
    room = room_name(request)

    async def body():
        gw = None
        try:
            gw = await LossyGateway(recording_sfu.base_url, to_server=Impairment(loss=0.03), seed=11).start()
            sent, lasted = await publish_page_for(browser, recording_sfu, room, PUBLISH_SECONDS, server=gw.base_url)
            assert gw.to_server.dropped > 0
            files = await finalised_files(recording_sfu, room, 2)
            save_json(f"{node_slug(request.node.name)}.json", {"sent": sent, "files": files, "gateway": gw.figures()})
            by_kind = {f["kind"]: f for f in files}
            v, a = by_kind["video"], by_kind["audio"]
            # Repairs bring nearly every frame; a frame given up costs the frames up to the next keyframe.
            recorded = check_video(os.path.join(recording_sfu.record_dir, v["name"]), None)
            assert recorded >= 0.8 * sent["video"], (recorded, sent, files)
            check_audio(os.path.join(recording_sfu.record_dir, a["name"]), None)
        finally:
            await close_all(gw)

    run(body(), 120)


def recording_server(name: str, record_dir: str) -> ServerUnderTest:
    server = ServerUnderTest(name, env={"RECORD_ENABLED": "true", "RECORD_DIR": record_dir})
    server.record_dir = record_dir
    return server


def test_sigterm_finalises_recordings_that_are_still_running(recording_sfu, request):
    """A graceful shutdown closes every recording (IVF frame count, Ogg end-of-stream), then exits."""
    need_ffmpeg()
    room = room_name(request)

    async def body():
        pub = None
        try:
            pub = await start_publisher(recording_sfu.base_url, room)
            await asyncio.sleep(4)
            assert recording_sfu.stop() == 0
            files = files_of_room(recording_sfu.record_dir, room)
            assert len(files) == 2 and all(f["state"] == "finalised" for f in files), files
            for f in files:
                path = os.path.join(recording_sfu.record_dir, f["name"])
                if f["kind"] == "video":
                    with open(path, "rb") as fh:
                        header = fh.read(32)
                    assert int.from_bytes(header[24:28], "little") == f["frames"] > 0, (f, header)
                    check_video(path, None)
                else:
                    check_audio(path, None)
                    with open(path, "rb") as fh:
                        data = fh.read()
                    last_page = data.rfind(b"OggS")
                    assert data[last_page + 5] & 0x04, "the last Ogg page has no end-of-stream flag"
        finally:
            await close_all(pub)

    run(body(), 60)


def test_kill_9_leaves_playable_files_that_the_next_start_finalises(request):
    """kill -9 mid-recording: the files play up to their last written frame, and the next
    start cuts them to it, completes them and marks them recovered."""
    need_ffmpeg()
    name = node_slug(request.node.name)
    room = room_name(request)
    record_dir = os.path.join(ARTIFACTS, f"records-{name}")
    shutil.rmtree(record_dir, ignore_errors=True)
    os.makedirs(record_dir)
    first = recording_server(name, record_dir).start()

    async def body():
        pub = None
        try:
            pub = await start_publisher(first.base_url, room)
            await asyncio.sleep(5)
            first.proc.kill()
            first.proc.wait()
            first.exit_code = first.proc.returncode
            files = files_of_room(record_dir, room)
            assert len(files) == 2 and all(f["state"] == "recording" for f in files), files
        finally:
            await close_all(pub)

    try:
        run(body(), 60)
    finally:
        first.stop(expect_clean=False)
    second = recording_server(name + "-restart", record_dir).start()
    try:
        files = files_of_room(record_dir, room)
        assert len(files) == 2 and all(f["state"] == "finalised" and f["recovered"] for f in files), files
        for f in files:
            path = os.path.join(record_dir, f["name"])
            assert os.path.getsize(path) == f["bytes"], f
            if f["kind"] == "video":
                assert check_video(path, None) == f["frames"], f
            else:
                assert check_audio(path, None) > 3, f
    finally:
        assert second.stop() == 0


def test_full_disk_stops_the_recording_and_viewers_keep_every_frame(request):
    """RECORD_DIR on a 512 KiB tmpfs: the video recording fills it within seconds; the
    recording stops (damaged, cut to its last whole frame) while the viewer keeps receiving."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    need_ffmpeg()
    name = node_slug(request.node.name)
    room = room_name(request)
    record_dir = os.path.join(ARTIFACTS, f"records-{name}")
    os.makedirs(record_dir, exist_ok=True)
    subprocess.run(["umount", record_dir], capture_output=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", record_dir], check=True)
    server = recording_server(name, record_dir)
    try:
        server.start()

        async def body():
            pub = v = None
            try:
                pub = await start_publisher(server.base_url, room)
                v = await WhepViewer(server.base_url, room).start()
                await v.wait_frames(10, 10, 30)
                track = next(s.track for s in pub.pc.getSenders() if s.track and s.track.kind == "video")
                sent0, got0 = track.count, v.video_frames
                v.max_video_gap = 0.0
                await eventually(lambda: "No space left on device" in server.log_tail(200), 30,
                                 "the recording stopped on a full disk")
                await asyncio.sleep(3)
                sent, got = track.count - sent0, v.video_frames - got0
                assert got >= 0.95 * sent, (got, sent)
                assert v.max_video_gap < 0.5, v.max_video_gap
            finally:
                await close_all(v, pub)

        run(body(), 90)
        assert server.stop() == 0
        video = [n for n in os.listdir(record_dir) if n.endswith(".ivf")]
        assert len(video) == 1, os.listdir(record_dir)
        check_video(os.path.join(record_dir, video[0]), None)
    finally:
        server.stop(expect_clean=False)
        subprocess.run(["umount", record_dir], capture_output=True)


def test_records_page_lists_the_recordings_with_download_links(recording_sfu, browser, request):
    room = room_name(request)

    async def body():
        page = pub = None
        try:
            pub = await start_publisher(recording_sfu.base_url, room)
            await asyncio.sleep(2)
            await pub.stop()
            pub = None
            files = await finalised_files(recording_sfu, room, 2)
            page = await browser.open(page_url(recording_sfu, "records.html", room=room), "records")
            await page.wait_for("window.livesfuState.records.length === 2", 20, "records page listed both files")
            rows = await page.evaluate("""(() => Array.from(document.querySelectorAll('#records tbody tr')).map((tr) => ({
                name: tr.dataset.name, href: (tr.querySelector('a') || {}).href || null, state: tr.cells[3].textContent })))()""")
            assert sorted(r["name"] for r in rows) == sorted(f["name"] for f in files), rows
            for r in rows:
                assert r["href"] == f"{recording_sfu.base_url}/api/records/{r['name']}" and r["state"] == "finalised", rows
        finally:
            await close_all(page, pub)

    run(body(), 60)
