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


class RefusingProxy:
    """Forwards HTTP to the server, except that the first `refusals` WHEP offers get
    503 + Retry-After: 1, as a busy livesfu core answers them."""

    def __init__(self, upstream, refusals):
        import http.server
        import threading
        import urllib.request

        proxy = self
        self.refused = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def forward(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.command == "POST" and "/whep/" in self.path and proxy.refused < refusals:
                    proxy.refused += 1
                    self.send_response(503)
                    self.send_header("Retry-After", "1")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                req = urllib.request.Request(upstream + self.path, data=body or None, method=self.command,
                                             headers={k: v for k, v in self.headers.items() if k.lower() != "host"})
                try:
                    resp = urllib.request.urlopen(req, timeout=10)
                except urllib.error.HTTPError as e:
                    resp = e
                data = resp.read()
                self.send_response(resp.status if hasattr(resp, "status") else resp.code)
                for k, v in resp.headers.items():
                    if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_DELETE = do_PATCH = do_GET = forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def test_viewers_refused_with_retry_after_offer_again_and_get_in(sfu):
    proxy = RefusingProxy(sfu.base_url, refusals=3)
    try:
        r = run_load("--server", proxy.base_url, "--room", "retrycheck", "--viewers", "3", "--duration", "6",
                     "--retry-refused", "5", "--min-delivery", "0.999")
    finally:
        proxy.close()
    out = r.stdout + r.stderr
    assert proxy.refused == 3
    assert r.returncode == 0 and "RESULT: PASS" in out, out[-4000:]
    assert "refused (503) 0 (offers retried after a 503: 3)" in out, out[-4000:]
