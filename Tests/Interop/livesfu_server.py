"""Starts the server under test (livesfu, or the stand-in when LIVESFU_STANDIN=1) on free
ports, waits for /healthz, keeps its log, and stops it with SIGTERM expecting a clean exit.

Environment:
  LIVESFU_BIN      path of the livesfu binary (default <repo>/.build/debug/livesfu)
  LIVESFU_ARGS     extra arguments, split like a shell would
  LIVESFU_ARGS_TEMPLATE  replaces the standard arguments; {http_port}, {udp_port},
                   {web_root} are filled in (default: DEFAULT_TEMPLATE below)
The server also gets the environment HTTP_ADDR, UDP_PORT (first of UDP_PORT_SPAN free
ports: core i uses UDP_PORT+i), WEB_DIR, and runs in the repository (its default web dir
"web" is then right too). Admission control is off (MAX_CORE_LOAD=0) unless the environment
sets it: a debug server on a CI machine busy with parallel tests must not refuse a test's
viewers with 503 because the machine, not the server, was loaded.
  LIVESFU_STANDIN  1 = run Tests/Interop/standin_sfu.py instead (harness scaffolding only)
"""

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
ARTIFACTS = os.path.join(REPO, "test-artifacts")


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def using_standin() -> bool:
    return os.environ.get("LIVESFU_STANDIN") == "1"


DEFAULT_TEMPLATE = "--http-addr 127.0.0.1:{http_port} --udp-port {udp_port}"
STANDIN_TEMPLATE = "--http-addr 127.0.0.1:{http_port} --udp-port {udp_port} --web-root {web_root}"
UDP_PORT_SPAN = 8
WEB_ROOT = os.path.join(REPO, "web")


def free_udp_span(span: int = UDP_PORT_SPAN) -> int:
    """A first port p with p..p+span-1 all free for UDP on 127.0.0.1 (one per core)."""
    for _ in range(50):
        base = free_port(socket.SOCK_DGRAM)
        if base + span > 65535:
            continue
        socks = []
        try:
            for p in range(base, base + span):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    return free_port(socket.SOCK_DGRAM)


def server_command(http_port: int, udp_port: int, standin: bool = False) -> list[str]:
    template = STANDIN_TEMPLATE if (standin or using_standin()) else \
        os.environ.get("LIVESFU_ARGS_TEMPLATE", DEFAULT_TEMPLATE)
    common = [a.format(http_port=http_port, udp_port=udp_port, web_root=WEB_ROOT)
              for a in shlex.split(template)]
    extra = [] if standin else shlex.split(os.environ.get("LIVESFU_ARGS", ""))
    if standin or using_standin():
        return [sys.executable, os.path.join(HERE, "standin_sfu.py"), *common, *extra]
    binary = os.environ.get("LIVESFU_BIN", os.path.join(REPO, ".build", "debug", "livesfu"))
    return [binary, *common, *extra]


class ServerUnderTest:
    """One running server. `base_url` is http://127.0.0.1:<port>."""

    def __init__(self, name: str, env: dict | None = None, standin: bool = False):
        self.name = name
        self.http_port = free_port()
        self.udp_port = free_udp_span()
        self.base_url = f"http://127.0.0.1:{self.http_port}"
        self.standin = standin or using_standin()
        self.cmd = server_command(self.http_port, self.udp_port, standin)
        self.env = dict(os.environ, HTTP_ADDR=f"127.0.0.1:{self.http_port}", UDP_PORT=str(self.udp_port),
                        WEB_DIR=WEB_ROOT, **(env or {}))
        self.env.setdefault("MAX_CORE_LOAD", "0")
        # The lossy gateway is another origin on loopback that pages reach through ?server=.
        self.env.setdefault("WEB_ALLOWED_SERVERS", "http://127.0.0.1:*")
        os.makedirs(ARTIFACTS, exist_ok=True)
        self.log_path = os.path.join(ARTIFACTS, f"server-{name}.log")
        self.proc: subprocess.Popen | None = None
        self.exit_code: int | None = None

    def start(self, timeout: float = 15.0) -> "ServerUnderTest":
        if not os.path.exists(self.cmd[0]):
            raise FileNotFoundError(f"server binary not found: {self.cmd[0]} (set LIVESFU_BIN or build it)")
        self._log = open(self.log_path, "wb")
        self._log.write(("$ " + shlex.join(self.cmd) + "\n").encode())
        self._log.flush()
        self.proc = subprocess.Popen(self.cmd, stdout=self._log, stderr=subprocess.STDOUT, env=self.env,
                                     cwd=REPO)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode} before /healthz answered:\n"
                                   + self.log_tail())
            try:
                with urllib.request.urlopen(self.base_url + "/healthz", timeout=1) as r:
                    if r.status == 200 and r.read().strip() == b"ok":
                        return self
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if time.monotonic() > deadline:
                self.stop(expect_clean=False)
                raise RuntimeError(f"/healthz did not answer within {timeout}s:\n" + self.log_tail())
            time.sleep(0.1)

    def stop(self, timeout: float = 10.0, expect_clean: bool = True) -> int | None:
        """SIGTERM, wait; a server that needs SIGKILL or exits non-zero fails when expect_clean."""
        if self.proc is None or self.exit_code is not None:
            return self.exit_code
        killed = False
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                killed = True
        self.exit_code = self.proc.returncode
        self._log.close()
        if expect_clean:
            assert not killed, f"server did not exit within {timeout}s of SIGTERM:\n{self.log_tail()}"
            assert self.exit_code == 0, f"server exited with {self.exit_code} on SIGTERM:\n{self.log_tail()}"
        return self.exit_code

    def log_tail(self, lines: int = 40) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-lines:]).decode(errors="replace")
        except OSError:
            return "(no log)"

    # --- HTTP helpers (sync; fine from tests, they are quick) ---
    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=5) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def rooms(self) -> dict:
        """{room name: {"publisher": bool, "viewers": int}} from GET /api/rooms (tolerant of shapes)."""
        status, body = self.get("/api/rooms")
        assert status == 200, f"/api/rooms answered {status}"
        return parse_rooms(json.loads(body))


def _viewer_count(v) -> int:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, (list, dict)):
        return len(v)
    return 0


def _has_publisher(r: dict) -> bool:
    p = r.get("publisher", r.get("publishing", r.get("live")))
    if isinstance(p, dict):
        return p.get("state", "connected") not in ("none", "absent", "closed", "gone")
    return bool(p)


def parse_rooms(data) -> dict:
    """Accepts {"rooms": [...]}, a bare list, or {name: {...}}; each room names itself by
    name/room/id and has publisher (object/bool/null) and viewers (count or list)."""
    items = []
    if isinstance(data, dict) and isinstance(data.get("rooms"), (list, dict)):
        data = data["rooms"]
    if isinstance(data, list):
        items = [(r.get("name") or r.get("room") or r.get("id"), r) for r in data if isinstance(r, dict)]
    elif isinstance(data, dict):
        items = [(k, v) for k, v in data.items() if isinstance(v, dict)]
    out = {}
    for name, r in items:
        viewers = r.get("viewers", r.get("subscribers", r.get("viewerCount", 0)))
        out[str(name)] = {"publisher": _has_publisher(r), "viewers": _viewer_count(viewers), "raw": r}
    return out
