"""aiortc WHEP viewer: recvonly audio+video, counts decoded video and audio frames."""

import asyncio
import time

from aiortc import RTCPeerConnection
from aiortc.mediastreams import MediaStreamError

from signalled_peer import SignalledPeer


class WhepViewer(SignalledPeer):
    def __init__(self, base_url: str, room: str, token: str | None = None, bundle: str = "max-bundle"):
        super().__init__(f"{base_url.rstrip('/')}/api/whep/play/{room}", token, bundle)
        self.video_frames = 0
        self.audio_frames = 0
        self.video_size: tuple[int, int] | None = None
        self.first_video_at: float | None = None
        self.last_video_at: float | None = None
        self.max_video_gap = 0.0
        self.answered_at: float | None = None
        self._tasks: list[asyncio.Task] = []

    def add_media(self, pc: RTCPeerConnection) -> None:
        pc.addTransceiver("video", direction="recvonly")
        pc.addTransceiver("audio", direction="recvonly")
        pc.on("track", self._on_track)

    async def start(self) -> "WhepViewer":
        await super().start()
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
        status = await super().stop(delete)
        for t in self._tasks:
            t.cancel()
        return status
