#!/usr/bin/env python3
"""Prints a Markdown table per scenario from perf/out/*.json: livesfu beside the Pion
reference and their ratio, so perf/RESULTS.md can be regenerated from one run of
perf/scenarios/all.sh.  Usage: perf/scenarios/summarize.py [perf/out]"""
import json
import pathlib
import sys

out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parent.parent / "out")


def load(name):
    p = out / f"{name}.json"
    return json.loads(p.read_text()) if p.exists() else None


def get(d, *path):
    for k in path:
        if d is None or k not in d:
            return None
        d = d[k]
    return d


def fmt(v, unit="", digits=1):
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.{digits}f}{unit}"
    return f"{v:,}{unit}"


ROWS = [
    ("viewers connected / failed / refused (503)", lambda d: f"{get(d, 'viewers_state', 'connected')} / {get(d, 'viewers_state', 'failed')} / {get(d, 'viewers_state', 'refused') or 0}", None),
    ("delivery", lambda d: fmt(100 * get(d, "packets", "delivery"), " %", 4) + f" ({get(d, 'packets', 'lost'):,} lost)", None),
    ("worst viewer's delivery", lambda d: fmt(100 * get(d, "packets", "worst_viewer_delivery"), " %", 3), None),
    ("steady state: server CPU (one core)", lambda d: fmt(100 * (get(d, "server_process", "steady_cpu_fraction") or 0), " %"), "steady_cpu"),
    ("steady state: packets delivered per s", lambda d: fmt((get(d, "server_process", "steady_packets_per_second") or 0) / 1000, "k"), None),
    ("steady state: server CPU per delivered packet", lambda d: fmt(get(d, "server_process", "steady_us_per_packet"), " µs", 2), "us_per_packet"),
    ("RSS per viewer", lambda d: fmt((get(d, "server_process", "rss_per_viewer_bytes") or 0) / 1024, " KiB"), "rss_per_viewer"),
    ("RSS at the end", lambda d: fmt((get(d, "server_process", "rss_bytes") or 0) / 2**20, " MiB"), None),
    ("latency, steady state p50 / p99 / max (ms)", lambda d: " / ".join(fmt(get(d, "latency", "steady", k), "", 1) for k in ("p50_ms", "p99_ms", "max_ms")), "p99_steady"),
    ("latency, steady, to when the load tool processed it: p50 / p99 (ms)", lambda d: " / ".join(fmt(get(d, "latency", "steady_processed", k), "", 1) for k in ("p50_ms", "p99_ms")), None),
    ("latency, whole run p50 / p99 / max (ms)", lambda d: " / ".join(fmt(get(d, "latency", k), "", 1) for k in ("p50_ms", "p99_ms", "max_ms")), None),
    ("join span (first POST → last viewer's first packet)", lambda d: fmt(get(d, "join", "span_s"), " s", 2), "join_span"),
    ("join: HTTP answer p50 / p95 (ms)", lambda d: f"{fmt(get(d, 'join', 'http_answer', 'p50_ms'))} / {fmt(get(d, 'join', 'http_answer', 'p95_ms'))}", None),
    ("join: DTLS connected p50 / p95 (ms)", lambda d: f"{fmt(get(d, 'join', 'dtls_connected', 'p50_ms'))} / {fmt(get(d, 'join', 'dtls_connected', 'p95_ms'))}", None),
    ("PLIs reaching the publisher / sent by viewers", lambda d: f"{get(d, 'publisher', 'plis_received')} / {get(d, 'rtcp', 'plis_sent')}", None),
    ("load generator CPU (steady)", lambda d: fmt(100 * (get(d, "load_process", "steady_cpu_fraction") or 0), " %"), None),
    ("result", lambda d: "PASS" if d.get("pass") else "FAIL: " + "; ".join(d.get("misses", [])), None),
]

RATIO = {
    "us_per_packet": lambda l, p: (get(p, "server_process", "steady_us_per_packet"), get(l, "server_process", "steady_us_per_packet"), "less CPU"),
    "rss_per_viewer": lambda l, p: (get(p, "server_process", "rss_per_viewer_bytes"), get(l, "server_process", "rss_per_viewer_bytes"), "less memory"),
    "p99_steady": lambda l, p: (get(p, "latency", "steady", "p99_ms"), get(l, "latency", "steady", "p99_ms"), "lower p99"),
}


def table(scenario, stems):
    runs = [(label, load(stem)) for label, stem in stems]
    runs = [(label, d) for label, d in runs if d is not None]
    if not runs:
        return
    print(f"\n### {scenario}\n")
    print("| | " + " | ".join(label for label, _ in runs) + (" | ratio |" if len(runs) == 2 else " |"))
    print("|---|" + "---|" * len(runs) + ("---|" if len(runs) == 2 else ""))
    for title, f, key in ROWS:
        cells = []
        for _, d in runs:
            try:
                cells.append(f(d))
            except (TypeError, KeyError):
                cells.append("—")
        ratio = ""
        if len(runs) == 2 and key in RATIO:
            a, b, word = RATIO[key](runs[0][1], runs[1][1])
            if a and b and b > 0:
                ratio = f"{a / b:.1f}× {word}"
        print(f"| {title} | " + " | ".join(cells) + (f" | {ratio} |" if len(runs) == 2 else " |"))


for scenario in ("fanout-200", "fanout-500", "fanout-1000", "fanout-1000-browser", "fanout-2000", "burst-1000", "rooms-100x10"):
    table(scenario, [("livesfu", f"{scenario}-livesfu"), ("Pion reference", f"{scenario}-pion")])
    table(scenario + " (publisher unpaced: each frame one burst)",
          [("livesfu", f"{scenario}-livesfu-unpaced"), ("Pion reference", f"{scenario}-pion-unpaced")])

idle = [(t, load(f"idle-{t}")) for t in ("livesfu", "pion")]
if any(d for _, d in idle):
    print("\n### idle\n")
    print("| | idle RSS | after one publisher and one viewer left |")
    print("|---|---|---|")
    for t, d in idle:
        if d:
            print(f"| {t} | {d['idle_rss_kb'] / 1024:.1f} MiB ({d['idle_rss_kb']:,} kB) | {d['rss_after_one_session_kb'] / 1024:.1f} MiB |")
