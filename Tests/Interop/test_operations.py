"""Operator assets (issue 18): /metrics passes `promtool check metrics` while rooms, viewers and
refusals are live; the alert rules pass `promtool check rules`; every metric the Grafana
dashboard and the rules use is one the server exports; LOG_FORMAT=json writes JSON lines;
`livesfu --check-config` validates and redacts secrets."""

import json
import os
import re
import shutil
import subprocess

import pytest

from harness import V_FRAMES, close_all, eventually, room_name, run, start_room
from livesfu_server import REPO, ServerUnderTest, server_command, using_standin
from signalled_peer import HttpError
from whep_client import WhepViewer

pytestmark = pytest.mark.skipif(using_standin(), reason="checks livesfu's metrics and tools")

DASHBOARD = os.path.join(REPO, "deploy", "grafana", "livesfu-dashboard.json")
RULES = os.path.join(REPO, "deploy", "prometheus", "livesfu-alerts.yml")
# Series Prometheus itself makes for every target (not the server's to export).
PROMETHEUS_OWN = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
PROMQL_WORDS = {"sum", "rate", "max", "min", "by", "without", "histogram_quantile", "clamp_min", "le", "instance",
                "label_values", "avg", "irate", "increase", "count", "on", "ignoring", "group_left", "bool", "and",
                "or", "unless", "offset"}


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool not installed (Debian's prometheus package; scripts/test.sh installs it)")
    return path


def exported_names(text: str) -> set[str]:
    """Metric names in a Prometheus exposition, with a histogram's _bucket/_sum/_count."""
    names = set()
    for line in text.splitlines():
        m = re.match(r"# TYPE (\S+) (\S+)", line)
        if m:
            names.add(m.group(1))
            if m.group(2) in ("histogram", "summary"):
                names.update(m.group(1) + s for s in ("_bucket", "_sum", "_count"))
    return names


def referenced_names(exprs: list[str]) -> set[str]:
    """Metric names in PromQL expressions: identifiers followed by a selector, a range or
    an operator, less PromQL's own words, label names and quoted strings."""
    names = set()
    for expr in exprs:
        expr = re.sub(r'"[^"]*"', '""', expr)  # label values
        expr = re.sub(r"\{[^}]*\}", "{}", expr)  # label matchers
        expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)  # grouping labels
        for word in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr):
            if word not in PROMQL_WORDS and not word.startswith("$") and not re.fullmatch(r"\d.*|[mshd]", word):
                names.add(word)
    return names


def dashboard_exprs() -> list[str]:
    with open(DASHBOARD) as f:
        d = json.load(f)
    exprs = [t["expr"] for p in d["panels"] for t in p.get("targets", [])]
    exprs += [v["query"].replace("label_values(", "").split(",")[0]
              for v in d["templating"]["list"] if v.get("type") == "query"]
    return exprs


def rule_exprs() -> list[str]:
    # The rules file is YAML; its expressions are the `expr:` values (one line, or a block).
    exprs, block = [], None
    for line in open(RULES):
        if block is not None:
            if line.strip() and (len(line) - len(line.lstrip())) > block[0]:
                block[1].append(line.strip())
                continue
            exprs.append(" ".join(block[1]))
            block = None
        m = re.match(r"(\s*)expr:\s*(.*)", line)
        if m:
            if m.group(2).strip() in ("|", ">"):
                block = (len(m.group(1)), [])
            else:
                exprs.append(m.group(2))
    if block:
        exprs.append(" ".join(block[1]))
    return exprs


@pytest.mark.parametrize("sfu", [{"MAX_SUBS_PER_ROOM": "1", "LOG_FORMAT": "json"}], indirect=True)
def test_metrics_pass_promtool_with_rooms_viewers_and_refusals(sfu, request):
    tool = promtool()
    room = room_name(request)

    async def body():
        pub, viewers = await start_room(sfu.base_url, room, viewers=1)
        try:
            await viewers[0].wait_frames(video=V_FRAMES)
            # The per-track viewer gauges (loss, RTT) exist once a viewer has reported; with
            # instant start the frames come before aiortc's first receiver report.
            await eventually(lambda: any(v.get("loss") is not None
                                         for v in sfu.rooms()[room]["raw"]["viewer_details"]),
                             10, "a receiver report from the viewer")
            with pytest.raises(HttpError) as refused:
                await WhepViewer(sfu.base_url, room).start()
            assert refused.value.status == 503
            status, metrics = sfu.get("/metrics")
            assert status == 200
            return metrics.decode()
        finally:
            await close_all(*viewers, pub)

    text = run(body())
    with open(os.path.join(REPO, "test-artifacts", "metrics-live.txt"), "w") as f:
        f.write(text)
    assert f'webrtc_subscribers{{room="{room}"}} 1' in text
    assert 'livesfu_sessions_refused_total{reason="room_full"} 1' in text
    for histogram in ("livesfu_session_connect_seconds", "livesfu_session_first_media_seconds",
                      "livesfu_loop_turn_duration_seconds", "livesfu_http_request_duration_seconds"):
        assert f"# TYPE {histogram} histogram" in text, histogram
    assert re.search(r'livesfu_session_connect_seconds_count\{role="viewer"\} [1-9]', text)
    r = subprocess.run([tool, "check", "metrics"], input=text, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr

    # The dashboard and the alert rules name only what the server exports.
    exported = exported_names(text) | PROMETHEUS_OWN
    for what, exprs in (("dashboard", dashboard_exprs()), ("rules", rule_exprs())):
        names = referenced_names(exprs)
        assert names, what
        assert names <= exported, f"{what} uses metrics the server does not export: {sorted(names - exported)}"

    # LOG_FORMAT=json: every log line is one JSON object, metadata as fields.
    with open(sfu.log_path, encoding="utf-8") as f:
        lines = [l for l in f.read().splitlines()[1:] if l.strip()]
    records = [json.loads(l) for l in lines]
    assert any(r.get("route") == "/metrics" and r.get("level") == "info" for r in records), lines[-5:]


def test_alert_rules_pass_promtool():
    tool = promtool()
    r = subprocess.run([tool, "check", "rules", RULES], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "4 rules found" in r.stdout, r.stdout
    alerts = re.findall(r"alert:\s*(\S+)", open(RULES).read())
    assert sorted(alerts) == ["LivesfuCoreSaturated", "LivesfuDeliveryDrops", "LivesfuRefusalsRising",
                              "LivesfuScrapeFailing"]


def test_check_config_validates_and_redacts():
    binary = server_command(0, 0)[0]
    env = dict(os.environ, AUTH_TOKEN="very-secret-token", S3_SECRET_KEY="s3-secret-value", CORES="2")
    ok = subprocess.run([binary, "--check-config", "--udp-port", "12000"], env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "very-secret-token" not in ok.stdout and "s3-secret-value" not in ok.stdout
    assert re.search(r"AUTH_TOKEN\s+<redacted>\s+\[env\]", ok.stdout), ok.stdout
    assert re.search(r"UDP_PORT\s+12000\s+\[flag\]", ok.stdout), ok.stdout
    bad = subprocess.run([binary, "--check-config"], env=dict(env, JWT_SECRET="short"), capture_output=True, text=True)
    assert bad.returncode == 2 and "JWT_SECRET" in bad.stderr, (bad.returncode, bad.stderr)
    assert "short" not in bad.stdout
    tls = subprocess.run([binary, "--check-config", "--quiet"], env=dict(env, TLS_CERT_FILE="/nonexistent.pem",
                                                                         TLS_KEY_FILE="/nonexistent.key"),
                         capture_output=True, text=True)
    assert tls.returncode == 2 and "certificate" in tls.stderr and tls.stdout == "", (tls.returncode, tls.stderr)
