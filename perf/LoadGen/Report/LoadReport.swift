/// A run's final figures, printed for people and written as JSON.
public struct LoadReport: Sendable {
    public var target: String
    public var server: String
    public var rooms: Int
    public var publishersWanted: Int
    public var viewersWanted: Int
    public var verifySample: Double
    public var verifiedViewers: Int
    public var durationSeconds: Double
    public var videoBitrate: Int
    public var fps: Int
    public var counters: LoadCounters
    /// First viewer POST to the last viewer's first media packet.
    public var joinSpanSeconds: Double
    public var stalledViewers: Int
    public var serverStart: ProcessSample?
    public var serverEnd: ProcessSample?
    public var serverPeakRSS: UInt64
    public var selfEnd: ProcessSample?
    public var loadCPU: String
    public var serverCPU: String
    public var misses: [String] = []
    /// The server after the publishers connected, before any viewer: the base for memory per viewer.
    public var serverBeforeViewers: ProcessSample? = nil
    /// The steady-state window (all viewers started, media flowing).
    public struct Steady: Sendable {
        public var seconds: Double
        public var serverCPUSeconds: Double
        /// Packets the viewers received in the window (a board copy is up to 1 s old at
        /// each end; both ends are equally old).
        public var packetsReceived: UInt64
        public var cpuFraction: Double { serverCPUSeconds / max(seconds, 0.001) }
        public var microsecondsPerPacket: Double {
            packetsReceived > 0 ? serverCPUSeconds * 1e6 / Double(packetsReceived) : 0
        }
    }
    public var steady: Steady? = nil
    /// The load generator's own CPU use in the steady window (1.0 = its whole core).
    public var loadSteadyCPUFraction: Double? = nil

    var serverCPUSeconds: Double? {
        guard let a = serverStart, let b = serverEnd else { return nil }
        return b.cpuSeconds - a.cpuSeconds
    }

    static func phase(_ h: LatencyHistogram) -> String {
        h.count == 0 ? "-" :
            "p50 \(Format.ms(h.value(atQuantile: 0.5))) p95 \(Format.ms(h.value(atQuantile: 0.95))) max \(Format.ms(h.maxValue)) ms (n=\(h.count))"
    }

    static func phaseJSON(_ h: LatencyHistogram) -> JSONObject {
        var o = JSONObject()
        o.add("count", h.count)
        o.add("p50_ms", Double(h.value(atQuantile: 0.5)) / 1e6)
        o.add("p95_ms", Double(h.value(atQuantile: 0.95)) / 1e6)
        o.add("max_ms", Double(h.count > 0 ? h.maxValue : 0) / 1e6)
        return o
    }

    public var text: String {
        let c = counters
        var s = "== livesfu-load report (\(target) at \(server)) ==\n"
        s += "load: \(rooms) room(s), \(publishersWanted) publisher(s), \(viewersWanted) viewer(s), \(Format.fixed(durationSeconds, 1)) s of media, video \(Format.fixed(Double(videoBitrate) / 1e6, 2)) Mbps @ \(fps) fps + Opus-like audio 50 pkt/s\n"
        s += "pinning: server \(serverCPU), load generator \(loadCPU)\n"
        s += "viewers: connected \(c.viewersDTLSConnected), with media \(c.viewersWithMedia), with keyframe \(c.viewersWithKeyframe), failed \(c.viewersFailed), refused (503) \(c.viewersRefused), stalled \(stalledViewers)\n"
        s += "join span: \(Format.fixed(joinSpanSeconds, 3)) s (first POST to last viewer's first packet)\n"
        s += "join  http answer:    \(Self.phase(c.joinHTTP))\n"
        s += "      ice connected:  \(Self.phase(c.joinICE))\n"
        s += "      dtls connected: \(Self.phase(c.joinDTLS))\n"
        s += "      first packet:   \(Self.phase(c.joinFirstPacket))\n"
        s += "      first keyframe: \(Self.phase(c.joinFirstKeyframe))\n"
        s += "packets: expected \(c.expected) received \(c.received) lost \(c.lost) duplicates \(c.duplicates) → delivery \(Format.fixed(c.deliveryRatio * 100, 4))%\n"
        let worst = c.viewerDelivery.min() ?? 0
        let below = c.viewerDelivery.filter { $0 < 0.999 }.count
        s += "per viewer: worst delivery \(Format.fixed(worst * 100, 3))%, viewers below 99.9%: \(below)\n"
        s += "latency (one-way, \(verifiedViewers) verified viewers = \(Format.fixed(verifySample * 100, 1))% sample, \(c.latency.count) packets): p50 \(Format.ms(c.latency.value(atQuantile: 0.5))) p99 \(Format.ms(c.latency.value(atQuantile: 0.99))) max \(Format.ms(c.latency.count > 0 ? c.latency.maxValue : 0)) ms\n"
        s += "latency, steady state (after every viewer joined, \(c.latencySteady.count) packets): p50 \(Format.ms(c.latencySteady.value(atQuantile: 0.5))) p99 \(Format.ms(c.latencySteady.value(atQuantile: 0.99))) max \(Format.ms(c.latencySteady.count > 0 ? c.latencySteady.maxValue : 0)) ms\n"
        s += "jitter: mean \(Format.fixed(c.jitterSamples > 0 ? c.jitterSumMs / Double(c.jitterSamples) : 0, 3)) ms, max \(Format.fixed(c.jitterMaxMs, 3)) ms; srtp verified \(c.srtpVerified) failures \(c.srtpFailures)\n"
        s += "rtcp sent by viewers: NACK \(c.nacksSent) (\(c.nackedPackets) packets), PLI \(c.plisSent), RR \(c.receiverReportsSent)\n"
        s += "publisher: sent \(c.publisherPacketsSent) packets, \(Format.mib(c.publisherBytesSent)) MiB, keyframes \(c.publisherKeyframes), PLI received \(c.publisherPLIsReceived), NACK received \(c.publisherNACKsReceived) (packets resent \(c.publisherRetransmissions))\n"
        if let cpu = serverCPUSeconds, let e = serverEnd {
            s += "server: CPU \(Format.fixed(cpu, 2)) s over the run (\(Format.fixed(cpu / max(durationSeconds, 0.001) * 100, 1))% of a core), RSS \(Format.mib(e.rssBytes)) MiB (start \(Format.mib(serverStart?.rssBytes ?? 0)) MiB, peak seen \(Format.mib(serverPeakRSS)) MiB)\n"
            if viewersWanted > 0, let st = serverBeforeViewers ?? serverStart, e.rssBytes > st.rssBytes {
                s += "server: RSS per viewer ≈ \(Format.fixed(Double(e.rssBytes - st.rssBytes) / Double(viewersWanted) / 1024, 1)) KiB (RSS growth from before the first viewer to the end, over \(viewersWanted) viewers)\n"
            }
            if let w = steady {
                s += "server steady state (\(Format.fixed(w.seconds, 1)) s): CPU \(Format.fixed(w.cpuFraction * 100, 1))% of a core, \(Format.fixed(Double(w.packetsReceived) / max(w.seconds, 0.001) / 1000, 1))k packets/s delivered, \(Format.fixed(w.microsecondsPerPacket, 2)) µs CPU per delivered packet\n"
            }
        } else {
            s += "server: not sampled (give --server-pid)\n"
        }
        s += "sessions ended: DELETE ok \(c.deletesOK), failed \(c.deletesFailed), answers without Location \(c.missingLocation)\n"
        if let me = selfEnd {
            let steadyText = loadSteadyCPUFraction.map { ", \(Format.fixed($0 * 100, 1))% of a core in the steady state" } ?? ""
            s += "load generator: CPU \(Format.fixed(me.cpuSeconds, 2)) s\(steadyText), RSS \(Format.mib(me.rssBytes)) MiB\n"
        }
        if let f = loadSteadyCPUFraction, f > 0.85 {
            s += "warning: the load generator used \(Format.fixed(f * 100, 0))% of its core: latency and loss may be its own, not the server's\n"
        }
        if c.sendDropped > 0 { s += "warning: \(c.sendDropped) sends dropped by the load generator's own queues\n" }
        for f in c.failures.prefix(5) { s += "failure: \(f)\n" }
        if misses.isEmpty { s += "RESULT: PASS\n" } else {
            for m in misses { s += "miss: \(m)\n" }
            s += "RESULT: FAIL\n"
        }
        return s
    }

    public var json: String {
        let c = counters
        var o = JSONObject()
        o.add("target", target)
        o.add("server", server)
        o.add("rooms", rooms)
        o.add("publishers", publishersWanted)
        o.add("viewers", viewersWanted)
        o.add("duration_s", durationSeconds)
        o.add("video_bitrate", videoBitrate)
        o.add("fps", fps)
        o.add("verify_sample", verifySample)
        o.add("verified_viewers", verifiedViewers)
        o.add("server_cpu", serverCPU)
        o.add("load_cpu", loadCPU)
        var v = JSONObject()
        v.add("connected", c.viewersDTLSConnected)
        v.add("with_media", c.viewersWithMedia)
        v.add("with_keyframe", c.viewersWithKeyframe)
        v.add("failed", c.viewersFailed)
        v.add("refused", c.viewersRefused)
        v.add("stalled", stalledViewers)
        o.add("viewers_state", v)
        var j = JSONObject()
        j.add("span_s", joinSpanSeconds)
        j.add("http_answer", Self.phaseJSON(c.joinHTTP))
        j.add("ice_connected", Self.phaseJSON(c.joinICE))
        j.add("dtls_connected", Self.phaseJSON(c.joinDTLS))
        j.add("first_packet", Self.phaseJSON(c.joinFirstPacket))
        j.add("first_keyframe", Self.phaseJSON(c.joinFirstKeyframe))
        o.add("join", j)
        var p = JSONObject()
        p.add("expected", c.expected)
        p.add("received", c.received)
        p.add("lost", c.lost)
        p.add("duplicates", c.duplicates)
        p.add("delivery", c.deliveryRatio)
        p.add("worst_viewer_delivery", c.viewerDelivery.min() ?? 0)
        p.add("viewers_below_99_9", c.viewerDelivery.filter { $0 < 0.999 }.count)
        p.add("video_expected", c.videoExpected)
        p.add("video_received", c.videoReceived)
        p.add("audio_expected", c.audioExpected)
        p.add("audio_received", c.audioReceived)
        o.add("packets", p)
        var l = JSONObject()
        l.add("samples", c.latency.count)
        l.add("p50_ms", Double(c.latency.value(atQuantile: 0.5)) / 1e6)
        l.add("p99_ms", Double(c.latency.value(atQuantile: 0.99)) / 1e6)
        l.add("max_ms", Double(c.latency.count > 0 ? c.latency.maxValue : 0) / 1e6)
        l.add("jitter_mean_ms", c.jitterSamples > 0 ? c.jitterSumMs / Double(c.jitterSamples) : 0)
        l.add("jitter_max_ms", c.jitterMaxMs)
        var st = JSONObject()
        st.add("samples", c.latencySteady.count)
        st.add("p50_ms", Double(c.latencySteady.value(atQuantile: 0.5)) / 1e6)
        st.add("p99_ms", Double(c.latencySteady.value(atQuantile: 0.99)) / 1e6)
        st.add("max_ms", Double(c.latencySteady.count > 0 ? c.latencySteady.maxValue : 0) / 1e6)
        l.add("steady", st)
        o.add("latency", l)
        var r = JSONObject()
        r.add("nacks_sent", c.nacksSent)
        r.add("nacked_packets", c.nackedPackets)
        r.add("plis_sent", c.plisSent)
        r.add("receiver_reports_sent", c.receiverReportsSent)
        r.add("srtp_verified", c.srtpVerified)
        r.add("srtp_failures", c.srtpFailures)
        o.add("rtcp", r)
        var pub = JSONObject()
        pub.add("packets_sent", c.publisherPacketsSent)
        pub.add("bytes_sent", c.publisherBytesSent)
        pub.add("keyframes", c.publisherKeyframes)
        pub.add("plis_received", c.publisherPLIsReceived)
        pub.add("nacks_received", c.publisherNACKsReceived)
        pub.add("retransmissions", c.publisherRetransmissions)
        o.add("publisher", pub)
        var sv = JSONObject()
        if let cpu = serverCPUSeconds, let e = serverEnd {
            sv.add("cpu_seconds", cpu)
            sv.add("cpu_fraction", cpu / max(durationSeconds, 0.001))
            sv.add("rss_bytes", e.rssBytes)
            sv.add("rss_start_bytes", serverStart?.rssBytes ?? 0)
            sv.add("rss_peak_bytes", serverPeakRSS)
            if let b = serverBeforeViewers {
                sv.add("rss_before_viewers_bytes", b.rssBytes)
                if viewersWanted > 0 && e.rssBytes > b.rssBytes {
                    sv.add("rss_per_viewer_bytes", Double(e.rssBytes - b.rssBytes) / Double(viewersWanted))
                }
            }
            if let w = steady {
                sv.add("steady_seconds", w.seconds)
                sv.add("steady_cpu_fraction", w.cpuFraction)
                sv.add("steady_packets_per_second", Double(w.packetsReceived) / max(w.seconds, 0.001))
                sv.add("steady_us_per_packet", w.microsecondsPerPacket)
            }
        }
        o.add("server_process", sv)
        if let me = selfEnd {
            var ls = JSONObject()
            ls.add("cpu_seconds", me.cpuSeconds)
            ls.add("rss_bytes", me.rssBytes)
            if let f = loadSteadyCPUFraction { ls.add("steady_cpu_fraction", f) }
            o.add("load_process", ls)
        }
        o.add("deletes_ok", c.deletesOK)
        o.add("deletes_failed", c.deletesFailed)
        o.add("missing_location", c.missingLocation)
        o.add("failures", raw: "[" + c.failures.map(Format.jsonString).joined(separator: ",") + "]")
        o.add("misses", raw: "[" + misses.map(Format.jsonString).joined(separator: ",") + "]")
        o.add("pass", misses.isEmpty)
        return o.text + "\n"
    }
}
