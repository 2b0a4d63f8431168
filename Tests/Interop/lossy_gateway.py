"""A WHIP/WHEP gateway that puts a lossy UDP path between a client and the server under test.

Clients (aiortc, or a page with `?server=<gateway>`) talk HTTP to the gateway, which forwards
to the server and rewrites the SDP: the client's UDP candidate in the offer becomes the
path's server-facing socket, the server's candidate in the answer becomes the path's
client-facing socket. Every packet of the session then crosses the path, where media
(RTP/RTCP, first byte 128..191) is dropped, delayed or reordered per direction; STUN and
DTLS pass untouched by default, so set-up stays quick and the loss is where it matters.
Test tooling only: no client or server needs a change for it.
"""

import asyncio
import random
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin

import aiohttp
from aiohttp import web

CANDIDATE = re.compile(r"^a=candidate:(\S+) (\d+) (udp|UDP) (\d+) (\S+) (\d+) typ (\S+)(.*)$")


@dataclass
class Impairment:
    loss: float = 0.0          # probability a media packet is dropped
    delay_ms: float = 0.0      # fixed one-way delay
    jitter_ms: float = 0.0     # uniform extra delay (reorders packets when > packet spacing)
    media_only: bool = True    # impair only RTP/RTCP, not STUN/DTLS
    passed: int = 0
    dropped: int = 0


def is_media(data: bytes) -> bool:
    return len(data) >= 2 and 128 <= data[0] <= 191


def first_udp_candidate(sdp: str) -> tuple[str, int] | None:
    for line in sdp.splitlines():
        m = CANDIDATE.match(line.strip())
        if m:
            return m.group(5), int(m.group(6))
    return None


def rewrite_candidates(sdp: str, port: int) -> str:
    """Keeps one UDP host candidate per m-section, pointing at 127.0.0.1:`port`; drops the rest."""
    out = []
    seen_in_section = False
    for line in sdp.split("\r\n") if "\r\n" in sdp else sdp.split("\n"):
        if line.startswith("m="):
            seen_in_section = False
        m = CANDIDATE.match(line.strip())
        if m:
            if seen_in_section:
                continue
            seen_in_section = True
            line = (f"a=candidate:{m.group(1)} {m.group(2)} udp {m.group(4)} 127.0.0.1 {port} typ host")
        elif line.startswith("a=candidate:"):
            continue  # TCP and other candidates: not through the path
        out.append(line)
    return ("\r\n" if "\r\n" in sdp else "\n").join(out)


class _Side(asyncio.DatagramProtocol):
    def __init__(self, path: "LossyPath", name: str):
        self.path = path
        self.name = name
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        self.path._received(self.name, data, addr)


class LossyPath:
    """Two sockets: `client_port` (the client sends here) and `server_port` (the server sends here)."""

    def __init__(self, to_client: Impairment, to_server: Impairment, rng: random.Random):
        self.to_client = to_client
        self.to_server = to_server
        self.rng = rng
        self.client_addr: tuple[str, int] | None = None
        self.server_addr: tuple[str, int] | None = None
        self.client_side: _Side | None = None
        self.server_side: _Side | None = None
        # While a list: every media packet passed towards the client, as (wall time, size,
        # payload type), at most `LOG_LIMIT` of them (what a test lines its viewer's stalls up with).
        self.to_client_log: list[tuple[float, int, int]] | None = None
        # While a list: the RTP headers passed towards the client, as (wall time, size, payload
        # type, sequence number, timestamp, marker, SSRC), at most `LOG_LIMIT`.
        self.to_client_headers: list[tuple] | None = None

    async def start(self) -> "LossyPath":
        loop = asyncio.get_running_loop()
        _, self.client_side = await loop.create_datagram_endpoint(lambda: _Side(self, "client"),
                                                                  local_addr=("127.0.0.1", 0))
        _, self.server_side = await loop.create_datagram_endpoint(lambda: _Side(self, "server"),
                                                                  local_addr=("127.0.0.1", 0))
        return self

    @property
    def client_port(self) -> int:
        return self.client_side.transport.get_extra_info("sockname")[1]

    @property
    def server_port(self) -> int:
        return self.server_side.transport.get_extra_info("sockname")[1]

    LOG_LIMIT = 200_000

    def _received(self, side: str, data: bytes, addr) -> None:
        if side == "client":
            self.client_addr = addr  # follow the client (peer-reflexive changes)
            out, dest, imp = self.server_side, self.server_addr, self.to_server
        else:
            out, dest, imp = self.client_side, self.client_addr, self.to_client
        if dest is None:
            return
        if imp.media_only and not is_media(data):
            out.transport.sendto(data, dest)
            return
        if imp.loss and self.rng.random() < imp.loss:
            imp.dropped += 1
            return
        imp.passed += 1
        if side == "server" and self.to_client_log is not None and len(self.to_client_log) < self.LOG_LIMIT:
            self.to_client_log.append((time.time(), len(data), data[1] & 0x7F))
        if (side == "server" and self.to_client_headers is not None and len(self.to_client_headers) < self.LOG_LIMIT
                and len(data) >= 12 and not 192 <= data[1] <= 223):
            self.to_client_headers.append((round(time.time(), 4), len(data), data[1] & 0x7F,
                                           int.from_bytes(data[2:4], "big"), int.from_bytes(data[4:8], "big"),
                                           data[1] >> 7, int.from_bytes(data[8:12], "big")))
        delay = (imp.delay_ms + (self.rng.random() * imp.jitter_ms if imp.jitter_ms else 0)) / 1000
        if delay > 0:
            asyncio.get_running_loop().call_later(delay, self._send, out, data, dest)
        else:
            out.transport.sendto(data, dest)

    @staticmethod
    def _send(side: _Side, data: bytes, dest) -> None:
        if side.transport and not side.transport.is_closing():
            side.transport.sendto(data, dest)

    def close(self) -> None:
        for s in (self.client_side, self.server_side):
            if s and s.transport:
                s.transport.close()


@dataclass
class LossyGateway:
    """HTTP front for WHIP/WHEP whose sessions all go through LossyPaths with these impairments."""

    upstream: str
    to_client: Impairment = field(default_factory=Impairment)
    to_server: Impairment = field(default_factory=Impairment)
    seed: int = 1

    def __post_init__(self):
        self.paths: list[LossyPath] = []
        self.rng = random.Random(self.seed)
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self.base_url = ""

    async def start(self) -> "LossyGateway":
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"
        self._http = aiohttp.ClientSession()
        return self

    async def stop(self) -> None:
        for p in self.paths:
            p.close()
        if self._http:
            await self._http.close()
        if self._runner:
            await self._runner.cleanup()

    def figures(self) -> dict:
        return {"to_client": {"passed": self.to_client.passed, "dropped": self.to_client.dropped},
                "to_server": {"passed": self.to_server.passed, "dropped": self.to_server.dropped}}

    CORS = {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Headers": "Authorization, Content-Type, If-Match",
        "Access-Control-Allow-Methods": "GET, POST, PATCH, DELETE, OPTIONS",
        "Access-Control-Expose-Headers": "Location, ETag, Link",
    }

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.method == "OPTIONS":
            return web.Response(status=204, headers=self.CORS)
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("content-type", "authorization", "if-match")}
        path = None
        sdp_post = request.method == "POST" and request.content_type == "application/sdp"
        if sdp_post:
            offer = body.decode()
            client = first_udp_candidate(offer)
            path = await LossyPath(self.to_client, self.to_server, self.rng).start()
            path.client_addr = client
            body = rewrite_candidates(offer, path.server_port).encode()
        async with self._http.request(request.method, urljoin(self.upstream, request.path_qs),
                                      data=body or None, headers=headers) as resp:
            data = await resp.read()
            out_headers = dict(self.CORS)
            for k in ("Content-Type", "ETag", "Link", "Location", "Accept-Post"):
                if k in resp.headers:
                    out_headers[k] = resp.headers[k]
            if "Location" in out_headers and out_headers["Location"].startswith(self.upstream):
                out_headers["Location"] = out_headers["Location"][len(self.upstream):]
            if path is not None:
                if resp.status == 201:
                    answer = data.decode()
                    path.server_addr = first_udp_candidate(answer)
                    data = rewrite_candidates(answer, path.client_port).encode()
                    self.paths.append(path)
                else:
                    path.close()
            return web.Response(status=resp.status, body=data, headers=out_headers)
