"""aiortc WHIP publisher with synthetic VP8 video (moving test pattern) and Opus audio (tone)."""

import asyncio
import fractions
import math
import struct
import time

import av
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpSender, VideoStreamTrack

from signalled_peer import SignalledPeer


class PatternVideoTrack(VideoStreamTrack):
    """A moving gradient with a bar, so every frame differs (real motion for the encoder)."""

    def __init__(self, width: int = 320, height: int = 240):
        super().__init__()
        self.width, self.height = width, height
        self.count = 0

    def _plane(self, plane, rows: int, cols: int, fn) -> None:
        stride = plane.line_size
        data = bytearray(stride * rows)
        for y in range(0, rows, 8):  # 8-row bands keep this cheap in Python
            row = bytes(fn(x, y) & 255 for x in range(cols)) + bytes(stride - cols)
            for yy in range(y, min(y + 8, rows)):
                data[yy * stride:(yy + 1) * stride] = row
        plane.update(bytes(data))

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        n = self.count
        self.count += 1
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        bar = (n * 4) % self.width
        self._plane(frame.planes[0], self.height, self.width,
                    lambda x, y: 235 if abs(x - bar) < 12 else (x + y + n * 2))
        self._plane(frame.planes[1], self.height // 2, self.width // 2, lambda x, y: 128 + ((x + n) % 64) - 32)
        self._plane(frame.planes[2], self.height // 2, self.width // 2, lambda x, y: 128 + ((y + n) % 64) - 32)
        frame.pts = pts
        frame.time_base = time_base
        return frame


class ToneAudioTrack(MediaStreamTrack):
    """A 400 Hz tone, 20 ms frames of 48 kHz mono s16."""

    kind = "audio"
    RATE = 48000
    SAMPLES = 960

    def __init__(self):
        super().__init__()
        # 400 Hz: exactly 8 periods per 960-sample frame, so one frame repeats seamlessly
        self._pcm = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 400 * i / self.RATE)))
                             for i in range(self.SAMPLES))
        self._ts = None
        self._start = 0.0

    async def recv(self):
        if self.readyState != "live":
            from aiortc.mediastreams import MediaStreamError
            raise MediaStreamError
        if self._ts is None:
            self._start = time.time()
            self._ts = 0
        else:
            self._ts += self.SAMPLES
            wait = self._start + self._ts / self.RATE - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
        frame = av.AudioFrame(format="s16", layout="mono", samples=self.SAMPLES)
        frame.planes[0].update(self._pcm)
        frame.sample_rate = self.RATE
        frame.pts = self._ts
        frame.time_base = fractions.Fraction(1, self.RATE)
        return frame


def prefer(transceiver, kind: str, codec: str) -> None:
    caps = RTCRtpSender.getCapabilities(kind).codecs
    want = [c for c in caps if c.mimeType.lower() == f"{kind}/{codec.lower()}"]
    rtx = [c for c in caps if c.mimeType.lower() == f"{kind}/rtx"]
    if want:
        transceiver.setCodecPreferences(want + rtx)


class WhipPublisher(SignalledPeer):
    """Publishes a pattern video (VP8) and a tone (Opus) to `{base}/api/whip/publish/{room}`."""

    def __init__(self, base_url: str, room: str, token: str | None = None, bundle: str = "max-bundle",
                 video_codec: str = "VP8", audio: bool = True, video: bool = True):
        super().__init__(f"{base_url.rstrip('/')}/api/whip/publish/{room}", token, bundle)
        self.video_codec = video_codec
        self.audio, self.video = audio, video

    def add_media(self, pc: RTCPeerConnection) -> None:
        if self.video:
            t = pc.addTransceiver(PatternVideoTrack(), direction="sendonly")
            prefer(t, "video", self.video_codec)
        if self.audio:
            t = pc.addTransceiver(ToneAudioTrack(), direction="sendonly")
            prefer(t, "audio", "opus")

    def packets_sent(self) -> int:
        total = 0
        for s in self.pc.getSenders() if self.pc else []:
            total += getattr(s, "_RTCRtpSender__packet_count", 0)
        return total
