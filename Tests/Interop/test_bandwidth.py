"""Viewers' send-side bandwidth estimates (issue 17, item 2) with real clients: Chromium viewers
send transport-cc feedback, aiortc viewers only REMB and receiver reports. One Chromium viewer
plays through `LossyGateway` (no impairment of its own) whose client-facing UDP port is shaped
to 400 kbit/s by `tc` (HTB on the namespace's loopback, matched on that port: only this
viewer's media crosses the bottleneck); the publisher and the other viewers are unshaped.

Needs root and `tc` inside the test namespace (run.sh under `unshare --net`), and Chromium;
skipped otherwise. Marked `quality`.
"""

import asyncio
import os
import shutil
import subprocess
import time

import pytest

from harness import close_all, node_slug, page_url, room_name, run, save_json, start_room, wait_playing
from lossy_gateway import LossyGateway

pytestmark = pytest.mark.quality

BOTTLENECK_KBIT = 400


def tc(*args: str) -> None:
    subprocess.run(["tc", *args], check=True, capture_output=True, timeout=10)


class Bottleneck:
    """HTB on `lo`: datagrams from UDP source port `port` at most `kbit`, a 30 kB FIFO (tail drop)
    in front; all other traffic unclassified, so unshaped (HTB's default class 0)."""

    def __init__(self, port: int, kbit: int):
        self.port, self.kbit = port, kbit

    def __enter__(self):
        try:
            tc("qdisc", "add", "dev", "lo", "root", "handle", "1:", "htb")
        except (subprocess.CalledProcessError, OSError) as exc:
            pytest.skip(f"tc cannot shape here (no HTB?): {exc}")
        tc("class", "add", "dev", "lo", "parent", "1:", "classid", "1:10", "htb",
           "rate", f"{self.kbit}kbit", "ceil", f"{self.kbit}kbit")
        tc("qdisc", "add", "dev", "lo", "parent", "1:10", "handle", "10:", "bfifo", "limit", "30000")
        tc("filter", "add", "dev", "lo", "protocol", "ip", "parent", "1:", "prio", "1", "u32",
           "match", "ip", "protocol", "17", "0xff", "match", "ip", "sport", str(self.port), "0xffff", "flowid", "1:10")
        return self

    def stats(self) -> str:
        out = subprocess.run(["tc", "-s", "class", "show", "dev", "lo"], capture_output=True, text=True, timeout=10)
        return out.stdout

    def __exit__(self, *exc):
        subprocess.run(["tc", "qdisc", "del", "dev", "lo", "root"], capture_output=True, timeout=10)


def can_shape() -> bool:
    if os.geteuid() != 0 or shutil.which("tc") is None or os.environ.get("LIVESFU_IN_NETNS") != "1":
        return False
    return True


def viewer_details(sfu, room: str) -> list[dict]:
    return sfu.rooms().get(room, {}).get("raw", {}).get("viewer_details", []) or []


def test_viewer_bandwidth_estimates_chromium_shaped_and_unshaped_aiortc_remb(browser, sfu, request):
    """Both Chromium viewers' transport-cc estimates first climb above 700 kbit/s (what the
    aiortc publisher sends is carried); then, with one behind 400 kbit/s, its estimate falls
    below 500 kbit/s within 25 s while the direct one stays above 700 kbit/s; the aiortc
    viewer has an estimate from its receiver reports or REMB."""
    if sfu.standin:
        pytest.skip("the stand-in has no bandwidth estimates")
    if not can_shape():
        pytest.skip("needs root and tc inside the test's own network namespace (LIVESFU_IN_NETNS=1)")
    room = room_name(request)
    name = node_slug(request.node.name)

    async def body():
        gw = pub = v_aiortc = p_direct = p_shaped = None
        try:
            gw = await LossyGateway(sfu.base_url, seed=17).start()
            pub, (v_aiortc,) = await start_room(sfu.base_url, room, viewers=1)
            p_direct = await browser.open(page_url(sfu, "player.html", room=room, autostart=1), "player-direct")
            p_shaped = await browser.open(
                page_url(sfu, "player.html", room=room, server=gw.base_url, autostart=1), "player-shaped")
            await asyncio.gather(wait_playing(p_direct, 10, 10), wait_playing(p_shaped, 5, 5, timeout=60))
            assert len(gw.paths) == 1, gw.paths

            def twcc_viewers():
                details = viewer_details(sfu, room)
                history.append([(d.get("bandwidth_signal"), d.get("bandwidth_estimate_bps"), d.get("nacks"))
                                for d in details])
                return sorted((d for d in details if d.get("bandwidth_signal") == "transport-cc"
                               and d.get("bandwidth_estimate_bps")), key=lambda d: d["bandwidth_estimate_bps"])

            def shaped_low(twcc) -> bool:
                # The low estimate must be the shaped viewer's: the one that lost (and NACKed) packets.
                return (len(twcc) == 2 and twcc[0]["bandwidth_estimate_bps"] < 500_000
                        and twcc[1]["bandwidth_estimate_bps"] > 700_000
                        and twcc[0].get("nacks", 0) + (twcc[0].get("loss") or 0)
                        > twcc[1].get("nacks", 0) + (twcc[1].get("loss") or 0))

            history: list = []
            # Unshaped, both Chromium viewers' estimates climb to what the publisher sends.
            baseline = None
            for _ in range(50):
                await asyncio.sleep(0.5)
                twcc = twcc_viewers()
                if len(twcc) == 2 and twcc[0]["bandwidth_estimate_bps"] > 700_000:
                    baseline = twcc
                    break
            shaped_at = len(history)
            result = None
            tc_stats = ""
            if baseline is not None:
                with Bottleneck(gw.paths[0].client_port, BOTTLENECK_KBIT) as shaped:
                    for _ in range(50):
                        await asyncio.sleep(0.5)
                        twcc = twcc_viewers()
                        if shaped_low(twcc):
                            result = twcc
                            break
                    tc_stats = shaped.stats()
            details = viewer_details(sfu, room)
            figures = {"history": history, "shaped_at_sample": shaped_at, "viewers": details, "tc": tc_stats,
                       "gateway": gw.figures()}
            save_json(f"{name}.json", figures)
            assert baseline is not None, figures
            assert result is not None, figures
            # aiortc sends receiver reports (and REMB where its estimator runs): an estimate
            # from those, never transport-cc.
            others = [d for d in details if d.get("bandwidth_signal") != "transport-cc"]
            assert len(others) == 1 and others[0]["bandwidth_signal"] in ("remb", "receiver-reports"), figures
            assert others[0]["bandwidth_estimate_bps"] > 0, figures
        finally:
            await close_all(p_shaped, p_direct, v_aiortc, pub, gw)

    run(body(), 180)


@pytest.mark.skipif(not os.environ.get("INTEROP_RECORD_BWE_TRACE"),
                    reason="records the estimator's fixture traces only when INTEROP_RECORD_BWE_TRACE is set")
def test_record_bandwidth_traces(browser, sfu, request):
    """Not a check: the run that recorded Tests/SFUTests/Congestion/Fixtures (see its README).
    The server logs every transport-cc feedback (LIVESFU_ARGS="--bandwidth-trace-file …") while
    one Chromium viewer plays directly and one through the gateway: 10 s unshaped, 20 s behind
    400 kbit/s, then 20 s unshaped again."""
    if not can_shape():
        pytest.skip("needs root and tc inside the test's own network namespace (LIVESFU_IN_NETNS=1)")
    room = room_name(request)

    async def body():
        gw = pub = v_aiortc = p_direct = p_shaped = None
        try:
            gw = await LossyGateway(sfu.base_url, seed=17).start()
            pub, (v_aiortc,) = await start_room(sfu.base_url, room, viewers=1)
            p_direct = await browser.open(page_url(sfu, "player.html", room=room, autostart=1), "player-direct")
            p_shaped = await browser.open(
                page_url(sfu, "player.html", room=room, server=gw.base_url, autostart=1), "player-shaped")
            await asyncio.gather(wait_playing(p_direct, 10, 10), wait_playing(p_shaped, 5, 5, timeout=60))
            marks = {"shaped_port": gw.paths[0].client_port}
            await asyncio.sleep(10)
            with Bottleneck(gw.paths[0].client_port, BOTTLENECK_KBIT) as shaped:
                marks["shaped_from"] = time.monotonic()
                await asyncio.sleep(20)
                marks["tc"] = shaped.stats()
            marks["shaped_until"] = time.monotonic()
            await asyncio.sleep(20)
            marks["viewers"] = viewer_details(sfu, room)
            save_json(os.environ["INTEROP_RECORD_BWE_TRACE"], marks)
        finally:
            await close_all(p_shaped, p_direct, v_aiortc, pub, gw)

    run(body(), 180)
