"""What the aiortc WHIP publisher and WHEP viewer share: the HTTP exchange (POST the offer,
DELETE the session) and the life of one peer connection around it.

Non-trickle: the offer carries every candidate (aiortc gathers in setLocalDescription).
Loopback only: `loopback` patches aioice so 127.0.0.1 is gathered.
"""

import asyncio
import time
from urllib.parse import urljoin

import loopback  # noqa: F401  (patches aioice for 127.0.0.1)

import aiohttp
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription


class HttpError(Exception):
    def __init__(self, status: int, body: str):
        super().__init__(f"HTTP {status}: {body.strip()[:200]}")
        self.status = status
        self.body = body


async def post_sdp(url: str, offer: str, token: str | None = None) -> tuple[str, str]:
    """POSTs an SDP offer (WHIP/WHEP); returns (answer SDP, absolute session URL)."""
    headers = {"Content-Type": "application/sdp"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
        async with http.post(url, data=offer.encode(), headers=headers) as resp:
            body = await resp.text()
            if resp.status != 201:
                raise HttpError(resp.status, body)
            loc = resp.headers.get("Location")
            if not loc:
                raise HttpError(resp.status, "201 without a Location header")
            # After a 307 (a cluster node sending the viewer to the room's node) the session
            # lives where the offer was finally answered: resolve against that URL.
            return body, urljoin(str(resp.url), loc)


async def delete_session(location: str, token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
        async with http.delete(location, headers=headers) as resp:
            await resp.read()
            return resp.status


def rtc_config(bundle: str = "max-bundle") -> RTCConfiguration:
    policy = RTCBundlePolicy.MAX_BUNDLE if bundle == "max-bundle" else RTCBundlePolicy.BALANCED
    return RTCConfiguration(iceServers=[], bundlePolicy=policy)


async def wait_pc_connected(pc: RTCPeerConnection, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while pc.connectionState != "connected":
        if pc.connectionState in ("failed", "closed"):
            raise AssertionError(f"peer connection {pc.connectionState}")
        if time.monotonic() > deadline:
            raise AssertionError(f"peer connection still {pc.connectionState} after {timeout}s "
                                 f"(ice {pc.iceConnectionState})")
        await asyncio.sleep(0.1)


class SignalledPeer:
    """One peer connection signalled over WHIP or WHEP at `url`. Subclasses add their
    transceivers in `add_media`; `start` offers, and closes the peer connection again when
    the server refuses, so a failed start leaves nothing open."""

    def __init__(self, url: str, token: str | None = None, bundle: str = "max-bundle"):
        self.url = url
        self.token = token
        self.bundle = bundle
        self.pc: RTCPeerConnection | None = None
        self.location: str | None = None
        self.offer_sdp = ""
        self.answer_sdp = ""
        self.delete_error: str | None = None

    def add_media(self, pc: RTCPeerConnection) -> None:
        raise NotImplementedError

    async def start(self):
        self.pc = RTCPeerConnection(rtc_config(self.bundle))
        self.add_media(self.pc)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        self.offer_sdp = self.pc.localDescription.sdp
        try:
            self.answer_sdp, self.location = await post_sdp(self.url, self.offer_sdp, self.token)
        except Exception:
            await self.pc.close()
            raise
        await self.pc.setRemoteDescription(RTCSessionDescription(self.answer_sdp, "answer"))
        return self

    async def wait_connected(self, timeout: float = 15.0) -> None:
        await wait_pc_connected(self.pc, timeout)

    async def stop(self, delete: bool = True) -> int | None:
        """DELETE the session (as clients do, before closing), then close the peer connection."""
        status = None
        if delete and self.location:
            try:
                status = await delete_session(self.location, self.token)
            except Exception as exc:  # noqa: BLE001 — reported through the status
                status = None
                self.delete_error = f"{type(exc).__name__}: {exc}"
        if self.pc:
            await self.pc.close()
        return status
