"""aiortc WHEP viewer: recvonly audio+video, counts decoded video and audio frames."""

import asyncio
import time

import loopback  # noqa: F401

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from whip_client import delete_session, post_sdp, rtc_config, wait_pc_connected


class WhepViewer:
    def __init__(self, base_url: str, room: str, token: str | None = None, bundle: str = "max-bundle"):
        self.url = f"{base_url.rstrip('/')}/api/whep/play/{room}"
        self.token = token
        self.bundle = bundle
        self.pc: RTCPeerConnection | None = None
        self.location: str | None = None
        self.video_frames = 0
        self.audio_frames = 0
        self.video_size: tuple[int, int] | None = None
        self.first_video_at: float | None = None
        self.last_video_at: float | None = None
        self.max_video_gap = 0.0
        self.answer_sdp = ""
        self.delete_error: str | None = None
        self.answered_at: float | None = None
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> "WhepViewer":
        self.pc = RTCPeerConnection(rtc_config(self.bundle))
        self.pc.addTransceiver("video", direction="recvonly")
        self.pc.addTransceiver("audio", direction="recvonly")
        self.pc.on("track", self._on_track)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        try:
            self.answer_sdp, self.location = await post_sdp(self.url, self.pc.localDescription.sdp, self.token)
        except Exception:
            await self.pc.close()
            raise
        await self.pc.setRemoteDescription(RTCSessionDescription(self.answer_sdp, "answer"))
        self.answered_at = time.monotonic()
        return self

    def first_frame_delay(self) -> float | None:
        """Seconds from the WHEP answer to the first decoded video frame."""
        if self.first_video_at is None or self.answered_at is None:
            return None
        return self.first_video_at - self.answered_at

    def _on_track(self, track) -> None:
        self._tasks.append(asyncio.ensure_future(self._consume(track)))

    async def _consume(self, track) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            now = time.monotonic()
            if track.kind == "video":
                self.video_frames += 1
                self.video_size = (frame.width, frame.height)
                if self.first_video_at is None:
                    self.first_video_at = now
                elif self.last_video_at is not None:
                    self.max_video_gap = max(self.max_video_gap, now - self.last_video_at)
                self.last_video_at = now
            else:
                self.audio_frames += 1

    async def wait_connected(self, timeout: float = 15.0) -> None:
        await wait_pc_connected(self.pc, timeout)

    async def wait_frames(self, video: int = 0, audio: int = 0, timeout: float = 20.0) -> None:
        """Waits until the totals of decoded frames reach `video` and `audio`."""
        deadline = time.monotonic() + timeout
        while self.video_frames < video or self.audio_frames < audio:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"viewer got {self.video_frames}/{video} video and {self.audio_frames}/{audio} audio "
                    f"frames in {timeout}s (pc {self.pc.connectionState})")
            await asyncio.sleep(0.1)

    async def stop(self, delete: bool = True) -> int | None:
        status = None
        if delete and self.location:
            try:
                status = await delete_session(self.location, self.token)
            except Exception as exc:  # noqa: BLE001 — reported through the status
                status = None
                self.delete_error = f"{type(exc).__name__}: {exc}"
        if self.pc:
            await self.pc.close()
        for t in self._tasks:
            t.cancel()
        return status
