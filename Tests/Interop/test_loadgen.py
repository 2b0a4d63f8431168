"""livesfu-load, the project's own WebRTC client stack, against the real server: its
self-test, then a publisher and a few viewers with real ICE, DTLS and SRTP receiving every
packet, every session ended by DELETE."""
import os
import subprocess

import pytest

from livesfu_server import using_standin

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOAD = os.environ.get("LIVESFU_LOAD_BIN", os.path.join(REPO, ".build", "debug", "livesfu-load"))

pytestmark = pytest.mark.skipif(using_standin(), reason="livesfu-load is checked against livesfu only")


def run_load(*args, timeout=90):
    if not os.path.exists(LOAD):
        pytest.fail(f"{LOAD} is not built (swift build --product livesfu-load)")
    return subprocess.run([LOAD, *args], capture_output=True, text=True, timeout=timeout)


def test_load_generator_self_test_passes():
    r = run_load("--self-test")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]


def test_three_viewers_receive_every_packet_and_sessions_end(sfu):
    r = run_load("--server", sfu.base_url, "--room", "loadcheck", "--viewers", "3", "--duration", "5",
                 "--min-delivery", "0.999")
    out = r.stdout + r.stderr
    assert r.returncode == 0 and "RESULT: PASS" in out, out[-4000:]
    assert "DELETE ok 4, failed 0" in out, out[-4000:]
    assert "loadcheck" not in sfu.rooms(), sfu.rooms()
