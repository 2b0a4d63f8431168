"""Headless Chromium driven over the DevTools protocol (no chromedriver).

`Browser` is a process (sync start/stop, shared by tests); `Page` is one tab with its own
DevTools websocket, used from a test's asyncio loop: open, evaluate JS, wait for a JS
condition, read `getStats()` figures the pages expose, screenshot into test-artifacts/.
Flags are those of shared INTEROP.md; every wait has a timeout because a Chromium that
gathers no candidate stays `new` forever.
"""

import asyncio
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

from livesfu_server import ARTIFACTS

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    env = os.environ.get("CHROMIUM_BIN")
    if env:
        return env if os.path.exists(env) else None
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    def __init__(self, binary: str, fake_fps: int | None = None):
        self.binary = binary
        self.fake_fps = fake_fps
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.user_dir = tempfile.mkdtemp(prefix="livesfu-chromium-")
        os.makedirs(ARTIFACTS, exist_ok=True)
        self.log_path = os.path.join(ARTIFACTS, "chromium.log")

    def start(self, timeout: float = 30.0) -> "Browser":
        fake = "--use-fake-device-for-media-stream" + (f"=fps={self.fake_fps}" if self.fake_fps else "")
        args = [
            self.binary, "--headless=new", "--no-sandbox", fake, "--use-fake-ui-for-media-stream",
            "--allow-loopback-in-peer-connection", "--autoplay-policy=no-user-gesture-required",
            "--disable-gpu", "--disable-dev-shm-usage", "--mute-audio",
            # candidates as plain 127.0.0.1, never mDNS names (loopback namespace, no multicast)
            "--disable-features=WebRtcHideLocalIpsWithMdns",
            "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--password-store=basic",
            "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
            "--disable-backgrounding-occluded-windows", "--window-size=1024,768",
            f"--user-data-dir={self.user_dir}", "--remote-debugging-port=0", "about:blank",
        ]
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT)
        port_file = os.path.join(self.user_dir, "DevToolsActivePort")
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.proc.returncode}; see {self.log_path}")
            try:
                with open(port_file) as f:
                    first = f.readline().strip()
                if first:
                    self.port = int(first)
                    break
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"chromium wrote no DevToolsActivePort within {timeout}s")
            time.sleep(0.1)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()
        shutil.rmtree(self.user_dir, ignore_errors=True)

    def _http(self, method: str, path: str) -> dict | list | str:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method)
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read().decode()
        try:
            return json.loads(body)
        except ValueError:
            return body

    async def open(self, url: str, name: str = "page") -> "Page":
        """Opens a new tab on `url` and connects to it."""
        target = await asyncio.to_thread(self._http, "PUT", "/json/new?" + urllib.parse.quote(url, safe=""))
        page = Page(self, target["id"], target["webSocketDebuggerUrl"], name)
        await page.connect()
        return page

    def close_target(self, target_id: str) -> None:
        try:
            self._http("GET", f"/json/close/{target_id}")
        except OSError:
            pass


class Page:
    def __init__(self, browser: Browser, target_id: str, ws_url: str, name: str):
        import aiohttp

        self.browser = browser
        self.target_id = target_id
        self.ws_url = ws_url
        self.name = name
        self._aiohttp = aiohttp
        self._http = None
        self._ws = None
        self._next_id = 0
        self._pending: dict[int, asyncio.Future] = {}
        self._reader: asyncio.Task | None = None
        self.console: list[str] = []

    async def connect(self) -> None:
        self._http = self._aiohttp.ClientSession()
        self._ws = await self._http.ws_connect(self.ws_url, max_msg_size=64 * 1024 * 1024)
        self._reader = asyncio.ensure_future(self._read())
        await self.send("Runtime.enable")
        await self.send("Page.enable")

    async def _read(self) -> None:
        async for msg in self._ws:
            if msg.type != self._aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            if "id" in data:
                fut = self._pending.pop(data["id"], None)
                if fut and not fut.done():
                    if "error" in data:
                        fut.set_exception(RuntimeError(f"DevTools error: {data['error']}"))
                    else:
                        fut.set_result(data.get("result", {}))
            elif data.get("method") == "Runtime.consoleAPICalled":
                p = data["params"]
                text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
                self.console.append(f"[{p.get('type')}] {text}")
            elif data.get("method") == "Runtime.exceptionThrown":
                d = data["params"]["exceptionDetails"]
                self.console.append(f"[exception] {d.get('exception', {}).get('description', d.get('text'))}")
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(ConnectionError("DevTools websocket closed"))

    async def send(self, method: str, params: dict | None = None, timeout: float = 30.0) -> dict:
        self._next_id += 1
        mid = self._next_id
        fut = asyncio.get_running_loop().create_future()
        self._pending[mid] = fut
        await self._ws.send_str(json.dumps({"id": mid, "method": method, "params": params or {}}))
        return await asyncio.wait_for(fut, timeout)

    async def evaluate(self, expression: str, timeout: float = 30.0):
        """Evaluates JS (awaiting promises); returns the value by JSON; raises on JS errors."""
        res = await self.send("Runtime.evaluate", {
            "expression": expression, "awaitPromise": True, "returnByValue": True,
        }, timeout=timeout)
        if "exceptionDetails" in res:
            d = res["exceptionDetails"]
            raise RuntimeError(f"JS error: {d.get('exception', {}).get('description', d.get('text'))}")
        return res.get("result", {}).get("value")

    async def wait_for(self, expression: str, timeout: float, what: str = "", interval: float = 0.25):
        """Polls a JS expression until it is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                last = await self.evaluate(expression, timeout=10)
            except RuntimeError as exc:
                last = str(exc)
            else:
                if last:
                    return last
            if time.monotonic() > deadline:
                state = await self.state()
                raise AssertionError(f"{self.name}: timed out after {timeout}s waiting for "
                                     f"{what or expression}; last={last!r}; livesfuState={state!r}; "
                                     f"console tail={self.console[-8:]!r}")
            await asyncio.sleep(interval)

    async def state(self) -> dict | None:
        try:
            return await self.evaluate("JSON.parse(JSON.stringify(window.livesfuState || null))", timeout=10)
        except Exception as exc:  # noqa: BLE001 — diagnostic only
            return {"error": str(exc)}

    async def screenshot(self, filename: str) -> str:
        os.makedirs(ARTIFACTS, exist_ok=True)
        res = await self.send("Page.captureScreenshot", {"format": "png"})
        path = os.path.join(ARTIFACTS, filename)
        with open(path, "wb") as f:
            f.write(base64.b64decode(res["data"]))
        return path

    async def close(self) -> None:
        with open(os.path.join(ARTIFACTS, "chromium-console.log"), "a") as f:
            for line in self.console:
                f.write(f"{self.name}: {line}\n")
        if self._ws is not None:
            await self._ws.close()
        if self._reader:
            self._reader.cancel()
        if self._http:
            await self._http.close()
        await asyncio.to_thread(self.browser.close_target, self.target_id)
