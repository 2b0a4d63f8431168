"""Graceful shutdown (issue 18): SIGTERM with a live room ends every session with an RTCP BYE
(seen by aiortc's own RTCP receiver), finalises the recordings, says in the log what it
drained, and exits 0 within SHUTDOWN_TIMEOUT_SECONDS; while it drains (uploads still
running), /healthz and new offers answer 503; a second signal exits at once."""

import asyncio
import glob
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest
from aiortc.rtp import RtcpByePacket
from aiortc.rtcrtpreceiver import RTCRtpReceiver

from harness import A_FRAMES, V_FRAMES, close_all, eventually, node_slug, room_name, run, start_room
from livesfu_server import ARTIFACTS, ServerUnderTest, using_standin

pytestmark = pytest.mark.skipif(using_standin(), reason="checks livesfu's shutdown")

TIMEOUT = 8


@pytest.fixture
def byes(monkeypatch):
    """Every RTCP BYE an aiortc receiver of this process handles: (receiver id, SSRCs)."""
    seen: list[tuple[int, list[int]]] = []
    original = RTCRtpReceiver._handle_rtcp_packet

    async def spy(self, packet):
        if isinstance(packet, RtcpByePacket):
            seen.append((id(self), list(packet.sources)))
        return await original(self, packet)

    monkeypatch.setattr(RTCRtpReceiver, "_handle_rtcp_packet", spy)
    return seen


def record_dir(name: str) -> str:
    path = os.path.join(ARTIFACTS, f"records-{name}")
    os.makedirs(path, exist_ok=True)
    for f in os.listdir(path):
        os.unlink(os.path.join(path, f))
    return path


def http(method: str, url: str, body: bytes | None = None, headers: dict | None = None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


async def wait_exit(proc: subprocess.Popen, timeout: float) -> float:
    """Seconds until the process exited (fails past `timeout`)."""
    start = time.monotonic()
    await asyncio.to_thread(proc.wait, timeout)
    return time.monotonic() - start


def test_sigterm_drains_a_live_room(request, byes):
    name = node_slug(request.node.name)
    records = record_dir(name)
    server = ServerUnderTest(name, env={"RECORD_ENABLED": "true", "RECORD_DIR": records,
                                        "SHUTDOWN_TIMEOUT_SECONDS": str(TIMEOUT)}).start()
    room = room_name(request)

    async def body():
        pub, viewers = await start_room(server.base_url, room, viewers=2)
        try:
            for v in viewers:
                await v.wait_frames(video=V_FRAMES, audio=A_FRAMES)
            receivers = {id(t.receiver) for v in viewers for t in v.pc.getTransceivers()}
            server.proc.send_signal(signal.SIGTERM)
            # Each viewer's receivers (audio and video) get a BYE naming the SSRC they receive.
            await eventually(lambda: receivers <= {r for r, _ in byes}, 5,
                             f"RTCP BYE at every viewer receiver (got {byes})")
            elapsed = await wait_exit(server.proc, TIMEOUT + 2)
            return elapsed
        finally:
            await close_all(*viewers, pub)

    elapsed = run(body())
    code = server.stop(expect_clean=False)
    log = open(server.log_path, encoding="utf-8", errors="replace").read()
    assert code == 0, f"exit status {code}:\n{server.log_tail()}"
    assert elapsed < TIMEOUT, elapsed
    drained = next((l for l in log.splitlines() if "drained" in l), "")
    for field in ("rooms=1", "publishers=1", "viewers=2", "rtcpBye=3", "recordingsFinished=2"):
        assert field in drained, (field, drained)
    assert "livesfu stopped" in log
    sidecars = glob.glob(os.path.join(records, f"{room}_*.json"))
    assert sidecars, os.listdir(records)
    for path in sidecars:
        states = [f["state"] for f in json.load(open(path))["files"]]
        assert states and all(s == "finalised" for s in states), (path, states)


class StalledS3:
    """An S3 endpoint that accepts connections, reads the request and never answers: an
    upload to it stays in flight (a drain waits for running uploads; one waiting to retry is
    stopped at once, so a refusing endpoint would not keep the drain busy)."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.connections = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections.append(conn)

    def close(self):
        self.listener.close()
        for c in self.connections:
            c.close()


def test_draining_refuses_and_second_signal_exits(request):
    """An upload in flight to an S3 endpoint that never answers keeps the drain busy (running
    uploads get the rest of the timeout): meanwhile /healthz is 503 and offers get 503 +
    Retry-After, and a second SIGTERM ends the process at once."""
    name = node_slug(request.node.name)
    records = record_dir(name)
    s3 = StalledS3()
    request.addfinalizer(s3.close)
    server = ServerUnderTest(name, env={
        "RECORD_ENABLED": "true", "RECORD_DIR": records, "SHUTDOWN_TIMEOUT_SECONDS": "60",
        "UPLOAD_RECORDINGS": "true", "S3_ENDPOINT": f"127.0.0.1:{s3.port}", "S3_USE_SSL": "false",
        "S3_BUCKET": "b", "S3_ACCESS_KEY": "k", "S3_SECRET_KEY": "s", "S3_PATH_STYLE": "true"}).start()
    room = room_name(request)
    offer = open(os.path.join(os.path.dirname(__file__), "..", "SFUTests", "SDP", "Fixtures",
                              "chromium-offer.sdp"), "rb").read()

    async def body():
        pub, viewers = await start_room(server.base_url, room, viewers=1)
        try:
            await viewers[0].wait_frames(video=V_FRAMES)
        finally:
            await close_all(*viewers, pub)
        # The publication's files are finalised and their uploads start (and never finish).
        await eventually(lambda: len(s3.connections) > 0, 20, "an upload connected to the stalled S3")
        server.proc.send_signal(signal.SIGTERM)
        await eventually(lambda: server.get("/healthz")[0] == 503, 5, "/healthz 503 while draining")
        status, headers, text = await asyncio.to_thread(
            http, "POST", f"{server.base_url}/api/whep/play/{room}", offer, {"Content-Type": "application/sdp"})
        assert status == 503 and headers.get("Retry-After"), (status, headers, text)
        assert "shutting down" in text
        assert server.proc.poll() is None, "the drain should still be waiting for the uploads"
        server.proc.send_signal(signal.SIGTERM)
        return await wait_exit(server.proc, 5)

    run(body())
    code = server.stop(expect_clean=False)
    assert code == 1, f"exit status {code} after the second signal:\n{server.log_tail()}"
    log = open(server.log_path, encoding="utf-8", errors="replace").read()
    assert "second stop signal" in log
