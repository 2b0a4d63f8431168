#!/usr/bin/env python3
"""Figures of one perf/scenarios/cluster-relay.sh run: per round and as median [min–max] over
the rounds (the configurations alternate within each round). CPU time is the nodes' own
(O, E1, E2 in --node-pid order) over livesfu-load's steady window.
Usage: perf/scenarios/cluster_summary.py <perf/out/cluster-relay-…>"""
import json
import pathlib
import statistics
import sys

d = pathlib.Path(sys.argv[1])


def load(cfg, r):
    p = d / f"{cfg}-{r}.json"
    if not p.exists():
        return None
    j = json.loads(p.read_text())
    return j.get("cluster")


rounds = sorted({int(p.stem.rsplit("-", 1)[1]) for p in d.glob("*-*.json")})
rows = {}


def put(name, r, v):
    if v is not None:
        rows.setdefault(name, {})[r] = v


for r in rounds:
    c = {cfg: load(cfg, r) for cfg in ("single", "cluster", "pub", "local", "relay", "hop")}
    cpu = lambda w, i: w["nodes"][i]["cpu_seconds"]
    rate = lambda w, i: cpu(w, i) / w["seconds"]
    pkt_rate = lambda w: w["publisher_packets"] / w["seconds"]
    if c["single"]:
        w = c["single"]
        put("single: O µs CPU per delivered packet", r, cpu(w, 0) / w["servers"][0]["packets"] * 1e6)
    if c["cluster"]:
        w = c["cluster"]
        e1, e2 = w["servers"][0]["packets"], w["servers"][1]["packets"]
        put("cluster: O (ingest + 2 relays) µs CPU per delivered packet of the cluster", r, cpu(w, 0) / (e1 + e2) * 1e6)
        put("cluster: E1 µs CPU per packet it delivered", r, cpu(w, 1) / e1 * 1e6)
        put("cluster: E2 µs CPU per packet it delivered", r, cpu(w, 2) / e2 * 1e6)
        total = (cpu(w, 0) + cpu(w, 1) + cpu(w, 2)) / (e1 + e2) * 1e6
        put("cluster: O+E1+E2 µs CPU per delivered packet", r, total)
        if c["single"]:
            s = c["single"]
            single = cpu(s, 0) / s["servers"][0]["packets"] * 1e6
            put("ratio cluster total / single", r, total / single)
            put("ratio edge (mean of E1, E2) / single", r, (cpu(w, 1) / e1 + cpu(w, 2) / e2) / 2 * 1e6 / single)
    if c["pub"]:
        w = c["pub"]
        put("pub: O µs CPU per published packet (ingest, no viewer)", r, rate(w, 0) / pkt_rate(w) * 1e6)
        put("pub: E1 idle CPU (% of a core)", r, rate(w, 1) * 100)
        if c["local"]:
            l = c["local"]
            put("local viewer on O: µs CPU per packet (O − pub)", r, (rate(l, 0) - rate(w, 0)) / pkt_rate(l) * 1e6)
        if c["relay"]:
            x = c["relay"]
            put("relay, origin side: µs CPU per relayed packet (O − pub)", r, (rate(x, 0) - rate(w, 0)) / pkt_rate(x) * 1e6)
            put("relay, edge side: µs CPU per relayed packet, ingest + 1 viewer (E1 − idle E1)", r,
                (rate(x, 1) - rate(w, 1)) / pkt_rate(x) * 1e6)
            if c["local"]:
                put("relay, edge side minus one local viewer: the relay's ingest per packet", r,
                    (rate(x, 1) - rate(w, 1)) / pkt_rate(x) * 1e6 - (rate(c["local"], 0) - rate(w, 0)) / pkt_rate(c["local"]) * 1e6)
    if c["local"] and c["relay"]:
        put("1 viewer on O: one-way p50 ms", r, c["local"]["servers"][0]["p50_ms"])
        put("1 viewer on E1 (relayed): one-way p50 ms", r, c["relay"]["servers"][0]["p50_ms"])
    if c["hop"]:
        o, e = c["hop"]["servers"][0], c["hop"]["servers"][1]
        put("hop: viewers on O, one-way p50 ms", r, o["p50_ms"])
        put("hop: viewers on E1, one-way p50 ms", r, e["p50_ms"])
        put("hop: added by the relay, p50 ms (E1 − O)", r, e["p50_ms"] - o["p50_ms"])
        put("hop: viewers on O, one-way p99 ms", r, o["p99_ms"])
        put("hop: viewers on E1, one-way p99 ms", r, e["p99_ms"])
        put("hop: added by the relay, p99 ms (E1 − O)", r, e["p99_ms"] - o["p99_ms"])
        put("hop: latency samples O / E1", r, f'{o["latency_samples"]} / {e["latency_samples"]}')

print("| figure | " + " | ".join(f"round {r}" for r in rounds) + " | median [min–max] |")
print("|---|" + "---|" * len(rounds) + "---|")
for name, per in rows.items():
    vals = [per.get(r) for r in rounds]
    cells = ["—" if v is None else (v if isinstance(v, str) else f"{v:.3f}") for v in vals]
    nums = [v for v in vals if isinstance(v, (int, float))]
    summary = f"{statistics.median(nums):.3f} [{min(nums):.3f}–{max(nums):.3f}]" if nums else ""
    print(f"| {name} | " + " | ".join(cells) + f" | {summary} |")
