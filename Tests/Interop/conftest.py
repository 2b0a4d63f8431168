"""Fixtures of the interop suite: the server under test, headless Chromium, outcome counts."""

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from chromium import Browser, find_chromium  # noqa: E402
from harness import node_slug  # noqa: E402
from livesfu_server import ARTIFACTS, ServerUnderTest, using_standin  # noqa: E402


@pytest.fixture
def sfu(request):
    """The server under test on fresh ports; stopped with SIGTERM after the test, which
    must end it cleanly (exit 0, in time)."""
    server = ServerUnderTest(node_slug(request.node.name), env=getattr(request, "param", None))
    try:
        server.start()
    except FileNotFoundError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def moto():
    """One S3-compatible server (moto's server mode, signatures checked) for the whole run."""
    from s3_moto import BUCKET, MotoS3
    server = MotoS3([BUCKET]).start()
    yield server
    server.stop()


_browser: Browser | None = None


@pytest.fixture
def browser():
    """One headless Chromium for the whole run (restarted if it died); skipped if absent."""
    global _browser
    binary = find_chromium()
    if binary is None:
        pytest.skip("chromium not installed (run.sh installs it with apt-get when root)")
    if _browser is None or not _browser.alive():
        if _browser is not None:
            _browser.stop()
        _browser = Browser(binary).start()
    return _browser


def pytest_sessionfinish(session, exitstatus):
    if _browser is not None:
        _browser.stop()


# --- outcome counts for run.sh: a test fails if any phase (setup, call, teardown) failed ---
_outcomes: dict = {}


def pytest_runtest_logreport(report):
    prev = _outcomes.get(report.nodeid, "passed")
    if report.failed:
        _outcomes[report.nodeid] = "failed"
    elif report.skipped and prev != "failed":
        _outcomes[report.nodeid] = "skipped"
    else:
        _outcomes.setdefault(report.nodeid, "passed")
    if report.skipped and report.when in ("setup", "call"):
        _skip_reasons[report.nodeid] = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""


_skip_reasons: dict = {}


def pytest_terminal_summary(terminalreporter):
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for outcome in _outcomes.values():
        counts[outcome] += 1
    os.makedirs(ARTIFACTS, exist_ok=True)
    with open(os.path.join(ARTIFACTS, "interop-counts.txt"), "w") as f:
        f.write(f"{counts['passed']} {counts['failed']} {counts['skipped']}\n")
    server = "STAND-IN (standin_sfu.py, LIVESFU_STANDIN=1)" if using_standin() else "livesfu"
    terminalreporter.write_line(f"interop: server under test: {server}")
    for nodeid, reason in sorted(_skip_reasons.items()):
        terminalreporter.write_line(f"interop: skipped {nodeid}: {reason}")
